package config

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/idplug/idplug/host/apikey"
)

func TestScopedAPIKeys(t *testing.T) {
	cfg := mustParse(t, withMinimal(
		"connectors:",
		"  - {id: acme, plugin: oauth2}",
		"  - {id: other, plugin: oauth2}",
		"api_keys:",
		"  - "+apiKeyA,
		"  - key: ${APP_KEY}",
		"    connectors: [acme]",
		"    scopes: [signin, tokens:read]",
		"  - {key: "+apiKeyB+", scopes: [admin]}",
	), map[string]string{"APP_KEY": key40})
	want := []apikey.Key{
		apikey.Unscoped(apiKeyA),
		{Secret: key40, Connectors: []string{"acme"}, Scopes: []apikey.Scope{apikey.SignIn, apikey.TokensRead}},
		{Secret: apiKeyB, Scopes: []apikey.Scope{apikey.Admin}},
	}
	if !reflect.DeepEqual(cfg.APIKeys, want) {
		t.Errorf("APIKeys = %v, want %v", cfg.APIKeys, want)
	}
	if cfg.PlainAPIKeys() != 1 {
		t.Errorf("PlainAPIKeys = %d", cfg.PlainAPIKeys())
	}
}

func TestScopedAPIKeyProblems(t *testing.T) {
	got := problemsOf(t, withMinimal(
		"connectors:",
		"  - {id: acme, plugin: oauth2}",
		"api_keys:",
		"  - {key: "+apiKeyA+", scopes: [signin, tokens]}", // line 6
		"  - {key: "+apiKeyB+"}",
		"  - {scopes: [admin]}",
		"  - {key: short, scopes: [admin]}",
		"  - {key: "+key32+", scopes: [admin], connectors: [nope]}",
		"  - {key: "+key40+", scopes: [admin], connectors: []}",
		"  - {key: "+apiKeyA+", scopes: [admin], extra: 1}",
		"  - [a, b]",
		"  - "+apiKeyB, // the same key as line 7
		"  - {key: "+strings.Repeat("c", 40)+", scopes: [signin, admin], connectors: [acme]}",
	), nil)
	want := []string{
		`6 api_keys[0].scopes[1]: "tokens" must be one of signin, tokens:read, tokens:read_refresh, tokens:delete, admin`,
		"7 api_keys[1].scopes: is required: what the key may do, among signin, tokens:read, tokens:read_refresh, tokens:delete, admin",
		"8 api_keys[2].key: is required: the bearer key itself (32 bytes or more)",
		"9 api_keys[3].key: is 5 bytes, needs at least 32",
		`10 api_keys[4].connectors[0]: "nope" is no connector instance of this file`,
		"11 api_keys[5].connectors: must name at least one connector; leave it out for every connector",
		"12 api_keys[6].extra:",
		"13 api_keys[7]: must be a key, or a mapping",
		"15 api_keys[9].connectors: cannot limit a key with the admin scope",
	}
	joined := strings.Join(got, "\n")
	for _, w := range want {
		if !strings.Contains(joined, w) {
			t.Errorf("no problem %q in:\n%s", w, joined)
		}
	}
	for _, secret := range []string{apiKeyA, apiKeyB, key32, key40} {
		if strings.Contains(joined, secret) {
			t.Errorf("a problem shows a key:\n%s", joined)
		}
	}
}

func TestDuplicateAPIKey(t *testing.T) {
	got := problemsOf(t, withMinimal(
		"api_keys:",
		"  - "+apiKeyA,
		"  - {key: "+apiKeyA+", scopes: [signin]}",
	), nil)
	if len(got) != 1 || !strings.Contains(got[0], "api_keys[1].key: is the same key as api_keys[0]") {
		t.Errorf("problems = %q", got)
	}
}

func TestHTTPAndMetricsSections(t *testing.T) {
	cfg := mustParse(t, withMinimal(), nil)
	if cfg.HTTP.ReadHeaderTimeout != DefaultReadHeaderTimeout || cfg.HTTP.MaxConnections != DefaultMaxConnections ||
		cfg.HTTP.MaxConnectionsPerAddress != DefaultMaxConnectionsPerAddress || cfg.Metrics.ConnectorLabels {
		t.Errorf("defaults: %+v %+v", cfg.HTTP, cfg.Metrics)
	}
	cfg = mustParse(t, withMinimal("http: {read_header_timeout: 2s, max_connections: 64, max_connections_per_address: 0, trusted_proxies: [10.0.0.0/8, 192.0.2.10]}", "metrics: {connector_labels: true}"), nil)
	if cfg.HTTP.ReadHeaderTimeout.String() != "2s" || cfg.HTTP.MaxConnections != 64 || cfg.HTTP.MaxConnectionsPerAddress != 0 || !cfg.Metrics.ConnectorLabels ||
		fmt.Sprint(cfg.HTTP.TrustedProxies) != "[10.0.0.0/8 192.0.2.10/32]" {
		t.Errorf("set: %+v %+v", cfg.HTTP, cfg.Metrics)
	}
	got := strings.Join(problemsOf(t, withMinimal(
		"http: {read_header_timeout: 2h, max_connections: 0, max_connections_per_address: -1, trusted_proxies: [10.0.0.0/8, ingress.local]}",
		"metrics: {connector_labels: yes please, more: 1}",
	), nil), "\n")
	for _, w := range []string{
		`3 http.read_header_timeout: "2h" is more than the maximum of 1m`,
		`3 http.max_connections: "0" must be a whole number of 1 or more`,
		`3 http.max_connections_per_address: "-1" must be a whole number of 0 or more`,
		`3 http.trusted_proxies[1]: "ingress.local" is not an address or a network, like 10.0.0.0/8 or 192.0.2.10`,
		"4 metrics.connector_labels: must be true or false",
		"4 metrics.more: unknown key",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("no problem %q in:\n%s", w, got)
		}
	}
}
