package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/idplug/idplug/internal/secretmount"
)

// clientIDOf is the client id connector id sends browsers to its provider with.
func clientIDOf(t *testing.T, p *idplugProc, id string) string {
	t.Helper()
	_, body := p.call(t, "POST", "/v1/connectors/"+id+"/authorization-uri", adminKey, map[string]any{"redirectUri": "https://app.test/cb"})
	redirect, _ := jsonPath(body, "redirectTo").(string)
	_, q, _ := strings.Cut(redirect, "client_id=")
	clientID, _, _ := strings.Cut(q, "&")
	return clientID
}

// reloadLines are the fields of each "configuration reloaded" line so far.
func reloadLines(t *testing.T, p *idplugProc) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(p.logs.String(), "\n") {
		var entry map[string]any
		if json.Unmarshal([]byte(line), &entry) == nil && entry["@message"] == "configuration reloaded" {
			out = append(out, entry)
		}
	}
	return out
}

// A Secret updated under a running idplug (an API key and a connector's
// client id read by ${file:}) is read by the next reload, whose log line says
// what changed; a reload with nothing new says that too. The reload had said
// only how many connectors there were, whether the kubelet had updated the
// files yet or not.
func TestReloadReadsASecretKubernetesUpdatedAndSaysWhatChanged(t *testing.T) {
	secret := secretmount.New(t, map[string]string{"client-id": "other-client", "api-key": "apikey-0123456789abcdef0123456789abcdef-one"})
	config := strings.Replace(exampleConfig, `"k2-0123456789abcdef0123456789abcdef"`, `"${file:`+secret.Dir+`/api-key}"`, 1)
	config = strings.Replace(config, "clientId: other-client", "clientId: ${file:"+secret.Dir+"/client-id}", 1)
	dir := pluginFolder(t, "example")
	p := startIdplug(t, dir, config)
	mustEqual(t, "client id at start", clientIDOf(t, p, "other"), "other-client")

	secret.Update(t, map[string]string{"client-id": "rotated-client", "api-key": "apikey-0123456789abcdef0123456789abcdef-two"})
	status, _ := p.call(t, "POST", "/v1/admin/reload", adminKey, nil)
	mustEqual(t, "reload status", status, 200)
	mustEqual(t, "client id after the reload", clientIDOf(t, p, "other"), "rotated-client")
	status, _ = p.call(t, "GET", "/v1/connectors", "apikey-0123456789abcdef0123456789abcdef-one", nil)
	mustEqual(t, "the old API key", status, 401)
	status, _ = p.call(t, "GET", "/v1/connectors", "apikey-0123456789abcdef0123456789abcdef-two", nil)
	mustEqual(t, "the new API key", status, 200)
	// The log reaches the test through a pipe, after the answer.
	p.waitLog(t, `"@message":"configuration reloaded"`)
	lines := reloadLines(t, p)
	if len(lines) != 1 {
		t.Fatalf("%d reload lines, want 1:\n%s", len(lines), p.logs)
	}
	mustEqual(t, "config_changed", lines[0]["config_changed"], []any{"other"})
	mustEqual(t, "api_keys_changed", lines[0]["api_keys_changed"], true)
	mustEqual(t, "session_keys_changed", lines[0]["session_keys_changed"], false)
	mustEqual(t, "added", lines[0]["added"], []any{})
	mustEqual(t, "removed", lines[0]["removed"], []any{})

	status, _ = p.call(t, "POST", "/v1/admin/reload", adminKey, nil)
	mustEqual(t, "reload status", status, 200)
	p.waitLog(t, `"api_keys_changed":false,"config_changed":[]`)
	lines = reloadLines(t, p)
	mustEqual(t, "config_changed, nothing new", lines[len(lines)-1]["config_changed"], []any{})
}
