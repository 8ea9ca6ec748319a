package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// The operator points a connector id that keeps tokens at another provider.
// The tokens kept from the first are bound to it: the vault neither hands them
// out as the new provider's nor sends them there to refresh or revoke, where
// that provider would read another provider's refresh token.
func TestVaultTokensStayWithTheirProvider(t *testing.T) {
	first, second := startStateProvider(t), startStateProvider(t)
	var revocations atomic.Int32
	revoke := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		revocations.Add(1)
	}))
	t.Cleanup(revoke.Close)
	plugins := pluginFolder(t, "oauth2")
	db := "sqlite:" + filepath.Join(t.TempDir(), "state.db")

	p := startIdplug(t, plugins, stateConfig(t, first, db, vaultKeyA))
	flow := startAPIFlow(t, p, first)
	status, _ := p.call(t, "POST", "/v1/connectors/acme/user-info", "", flow)
	mustEqual(t, "sign-in at the first provider", status, 200)

	// The same id, now at the second provider (whose revocations are counted).
	var cfg map[string]any
	if err := json.Unmarshal([]byte(stateConfig(t, second, db, vaultKeyA)), &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["connectors"].([]any)[0].(map[string]any)["config"].(map[string]any)["revocationEndpoint"] = revoke.URL
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	next, _ := withHarnessKey(strings.ReplaceAll(string(raw), "PLUGIN_DIR", plugins))
	if err := os.WriteFile(p.configPath, []byte(next), 0o600); err != nil {
		t.Fatal(err)
	}
	status, _ = p.call(t, "POST", "/v1/admin/reload", "", nil)
	mustEqual(t, "reload", status, 200)

	status, body := p.call(t, "GET", "/v1/connectors/acme/users/alice/tokens", "", nil)
	if status != 404 || !strings.Contains(jsonPath(body, "message").(string), "another provider") {
		t.Fatalf("the first provider's tokens read through the second: %d %v", status, body)
	}
	if n := second.refreshes.Load(); n != 0 {
		t.Fatalf("the second provider was sent %d refresh requests with the first's refresh token", n)
	}
	status, body = p.call(t, "DELETE", "/v1/connectors/acme/users/alice/tokens", "", nil)
	if status != 200 || jsonPath(body, "deleted") != true || jsonPath(body, "revoked") == true {
		t.Fatalf("deleting the first provider's tokens: %d %v", status, body)
	}
	if n := revocations.Load(); n != 0 {
		t.Fatalf("the second provider was sent %d revocations of the first's tokens", n)
	}

	// A sign-in at the second provider keeps its own tokens, which serve.
	flow = startAPIFlow(t, p, second)
	status, _ = p.call(t, "POST", "/v1/connectors/acme/user-info", "", flow)
	mustEqual(t, "sign-in at the second provider", status, 200)
	status, _ = p.call(t, "GET", "/v1/connectors/acme/users/alice/tokens", "", nil)
	mustEqual(t, "the second provider's tokens", status, 200)
	if n := second.refreshes.Load(); n != 1 {
		t.Fatalf("%d refreshes at the second provider for its own tokens, want 1", n)
	}
	p.stop(t)
}
