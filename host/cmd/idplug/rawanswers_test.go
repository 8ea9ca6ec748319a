package main

import (
	"path/filepath"
	"testing"

	"github.com/idplug/idplug/internal/plugintest"
)

// A plugin written without the SDK signs a user in with tokens due at once,
// then answers the vault's refresh with no tokens and no error. That nil
// token set had ended idplug's process (a panic on singleflight's goroutine,
// past any recover) at the first read of the user's tokens, and at every read
// after each restart: every connector down for one plugin's answer. The read
// is the plugin's invalid_response now, and the other plugin serves on.
func TestPluginsEmptyRefreshCannotEndIdplug(t *testing.T) {
	dir := plugintest.Folder(t)
	plugintest.Install(t, dir, plugintest.Binary(t, "./plugins/example"), "example")
	plugintest.Install(t, dir, plugintest.Binary(t, "./host/testdata/rawanswers"), "raw")
	p := startIdplug(t, dir, `
listen: 127.0.0.1:0
public_url: http://127.0.0.1:1
plugin_dir: PLUGIN_DIR
session_keys: ["${IDPLUG_SESSION_KEY}"]
store: {url: "sqlite:`+filepath.Join(t.TempDir(), "idplug.db")+`"}
vault_keys: ["vault-0123456789abcdef0123456789abcdef"]
log_format: json
connectors:
  - id: hello
    plugin: example
    config: {authorizationEndpoint: "https://id.example.test/authorize", clientId: c}
  - id: raw
    plugin: raw
    config: {mode: ok, storeTokens: true}
`)
	status, auth := p.call(t, "POST", "/v1/connectors/raw/authorization-uri", "", map[string]any{"redirectUri": appRedirect})
	mustEqual(t, "authorization-uri status", status, 200)
	status, info := p.call(t, "POST", "/v1/connectors/raw/user-info", "", map[string]any{"session": auth["session"],
		"data": map[string]any{"code": "c", "state": auth["state"]}})
	mustEqual(t, "user-info status", status, 200)
	status, tokens := p.call(t, "GET", "/v1/connectors/raw/users/ann/tokens", "", nil)
	if status == 200 || jsonPath(tokens, "code") != "invalid_response" {
		t.Errorf("a read whose refresh got no tokens: %d %v; want invalid_response (user-info gave %v)", status, tokens, info)
	}
	status, _ = p.call(t, "POST", "/v1/connectors/hello/authorization-uri", "", map[string]any{"redirectUri": appRedirect})
	mustEqual(t, "the other connector afterwards", status, 200)
}
