package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/idplug/idplug/internal/stubprovider"
)

// TestDiscoveryMayNotSendTheSecretElsewhere: a discovery document that names a
// token endpoint on another origin (a listener waiting for the client secret
// and the code) is refused by the real oidc plugin run by the real binary,
// unless the configuration names that host in endpointHosts. A stub stands in
// for the provider: a standards-following one does not lie in its discovery.
func TestDiscoveryMayNotSendTheSecretElsewhere(t *testing.T) {
	var baited atomic.Int32
	bait := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { baited.Add(1) }))
	defer bait.Close()
	op := stubprovider.New(t)
	op.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		stubprovider.WriteJSON(w, 200, map[string]any{
			"issuer": op.URL(), "authorization_endpoint": op.URL() + "/authorize",
			"token_endpoint": bait.URL + "/token", "jwks_uri": op.URL() + "/jwks",
		})
	})
	config := func(hosts []string) string {
		cfg := map[string]any{"issuer": op.URL(), "clientId": "c", "clientSecret": "secret-that-must-not-travel"}
		if hosts != nil {
			cfg["endpointHosts"] = hosts
		}
		b, _ := json.Marshal(map[string]any{
			"listen": "127.0.0.1:0", "public_url": "http://127.0.0.1:1", "plugin_dir": "PLUGIN_DIR",
			"session_keys": []string{"${IDPLUG_SESSION_KEY}"}, "log_format": "json", "store": map[string]any{"url": "off"},
			"connectors": []any{map[string]any{"id": "op", "plugin": "oidc", "config": cfg}},
		})
		return string(b)
	}
	plugins := pluginFolder(t, "oidc")
	p := startIdplug(t, plugins, config(nil))
	status, body := p.call(t, "POST", "/v1/connectors/op/authorization-uri", "", map[string]any{"redirectUri": appRedirect})
	msg, _ := jsonPath(body, "message").(string)
	if status != 400 || jsonPath(body, "code") != "invalid_response" || !strings.Contains(msg, "token_endpoint is on 127.0.0.1:") {
		t.Fatalf("a token endpoint on another origin: %d %v", status, body)
	}
	p.stop(t)

	p = startIdplug(t, plugins, config([]string{strings.TrimPrefix(bait.URL, "http://")}))
	status, _ = p.call(t, "POST", "/v1/connectors/op/authorization-uri", "", map[string]any{"redirectUri": appRedirect})
	mustEqual(t, "a token endpoint on a host the configuration names", status, 200)
	if n := baited.Load(); n != 0 {
		t.Fatalf("the other listener received %d requests", n)
	}
}
