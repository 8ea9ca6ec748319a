package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// Scoped API keys, through the real binary against the real OpenID provider:
// each scope allowed where it applies and refused (403 forbidden) elsewhere.
const (
	signinKey  = "scope-signin-0123456789abcdef0123456789"
	readKey    = "scope-read-0123456789abcdef0123456789ab"
	refreshKey = "scope-refresh-0123456789abcdef012345678"
	deleteKey  = "scope-delete-0123456789abcdef0123456789"
	adminScKey = "scope-admin-0123456789abcdef0123456789a"
	otherKey   = "scope-other-0123456789abcdef0123456789a"
	plainKey   = "scope-plain-0123456789abcdef0123456789a"
)

func scopedConfig(t *testing.T, sp *stateProvider, dbPath string) string {
	t.Helper()
	var cfg map[string]any
	if err := json.Unmarshal([]byte(stateConfig(t, sp, "sqlite:"+dbPath, vaultKeyA)), &cfg); err != nil {
		t.Fatal(err)
	}
	other := sp.connector()
	other["id"] = "other"
	cfg["connectors"] = append(cfg["connectors"].([]any), other)
	cfg["api_keys"] = []any{
		map[string]any{"key": signinKey, "scopes": []string{"signin"}, "connectors": []string{"acme"}},
		map[string]any{"key": readKey, "scopes": []string{"tokens:read"}},
		map[string]any{"key": refreshKey, "scopes": []string{"tokens:read_refresh"}, "connectors": []string{"acme"}},
		map[string]any{"key": deleteKey, "scopes": []string{"tokens:delete"}, "connectors": []string{"acme"}},
		map[string]any{"key": adminScKey, "scopes": []string{"admin"}},
		map[string]any{"key": otherKey, "scopes": []string{"signin", "tokens:read_refresh", "tokens:delete"}, "connectors": []string{"other"}},
		plainKey,
	}
	b, _ := json.Marshal(cfg)
	return string(b)
}

func TestScopedAPIKeys(t *testing.T) {
	sp := startStateProvider(t)
	p := startIdplug(t, pluginFolder(t, "oauth2"), scopedConfig(t, sp, filepath.Join(t.TempDir(), "state.db")))
	p.waitLog(t, "api_keys written as plain strings may do everything")

	expect := func(what, method, path, key string, body any, status int) map[string]any {
		t.Helper()
		got, out := p.call(t, method, path, key, body)
		if got != status {
			t.Fatalf("%s: %s %s = %d %v, want %d", what, method, path, got, out, status)
		}
		if status == 403 && jsonPath(out, "code") != "forbidden" {
			t.Fatalf("%s: code %v, want forbidden", what, jsonPath(out, "code"))
		}
		return out
	}
	const auth = "/v1/connectors/acme/authorization-uri"
	start := map[string]any{"redirectUri": appRedirect}
	const tokens = "/v1/connectors/acme/users/alice/tokens"

	// Any valid key lists the connectors it may act on, and only those;
	// describing one needs the connector.
	listed := func(key string) string {
		t.Helper()
		var ids []string
		list, _ := expect("list", "GET", "/v1/connectors", key, nil, 200)["connectors"].([]any)
		for _, c := range list {
			ids = append(ids, jsonPath(c.(map[string]any), "id").(string))
		}
		return strings.Join(ids, ",")
	}
	for key, want := range map[string]string{readKey: "acme,other", signinKey: "acme", otherKey: "other"} {
		if got := listed(key); got != want {
			t.Errorf("the connectors a key lists: %s, want %s", got, want)
		}
	}
	expect("describe acme, other's key", "GET", "/v1/connectors/acme", otherKey, nil, 403)
	expect("describe acme, read key", "GET", "/v1/connectors/acme", readKey, nil, 200)

	// signin: authorization-uri, user-info, refresh.
	for _, k := range []string{readKey, refreshKey, deleteKey, adminScKey, otherKey} {
		expect("authorization-uri without signin on acme", "POST", auth, k, start, 403)
	}
	expect("authorization-uri on other, signin key of acme", "POST", "/v1/connectors/other/authorization-uri", signinKey, start, 403)
	expect("authorization-uri on other, other's key", "POST", "/v1/connectors/other/authorization-uri", otherKey, start, 200)
	out := expect("authorization-uri, signin key", "POST", auth, signinKey, start, 200)
	cb, err := sp.Authorize(t.Context(), jsonPath(out, "redirectTo").(string), appRedirect)
	if err != nil {
		t.Fatal(err)
	}
	data := map[string]string{}
	for k, v := range cb.Query() {
		data[k] = v[0]
	}
	flow := map[string]any{"session": out["session"], "data": data}
	expect("user-info, read key", "POST", "/v1/connectors/acme/user-info", readKey, flow, 403)
	signIn := expect("user-info, signin key", "POST", "/v1/connectors/acme/user-info", signinKey, flow, 200)
	rt, _ := jsonPath(signIn, "tokens", "refreshToken").(string)
	if rt == "" {
		t.Fatalf("no refresh token from the sign-in: %v", signIn)
	}
	expect("refresh, admin key", "POST", "/v1/connectors/acme/refresh", adminScKey, map[string]any{"refreshToken": rt}, 403)

	// tokens:read without the refresh token; tokens:read_refresh with it.
	for _, k := range []string{signinKey, deleteKey, adminScKey, otherKey} {
		expect("vault read without tokens:read on acme", "GET", tokens, k, nil, 403)
	}
	read := expect("vault read, read key", "GET", tokens, readKey, nil, 200)
	if jsonPath(read, "tokens", "accessToken") == nil || jsonPath(read, "tokens", "refreshToken") != nil {
		t.Fatalf("tokens:read: %v (want the access token without the refresh token)", read)
	}
	full := expect("vault read, refresh key", "GET", tokens, refreshKey, nil, 200)
	if jsonPath(full, "tokens", "refreshToken") == nil {
		t.Fatalf("tokens:read_refresh: no refresh token in %v", full)
	}
	if jsonPath(expect("vault read, plain key", "GET", tokens, plainKey, nil, 200), "tokens", "refreshToken") == nil {
		t.Fatal("a plain key keeps its meaning for this release: the refresh token too")
	}

	// admin: reload.
	for _, k := range []string{signinKey, readKey, deleteKey} {
		expect("reload without admin", "POST", "/v1/admin/reload", k, nil, 403)
	}
	expect("reload, admin key", "POST", "/v1/admin/reload", adminScKey, nil, 200)

	// tokens:delete, last (it revokes the grant).
	for _, k := range []string{readKey, refreshKey, signinKey, otherKey} {
		expect("vault delete without tokens:delete on acme", "DELETE", tokens, k, nil, 403)
	}
	expect("vault delete, delete key", "DELETE", tokens, deleteKey, nil, 200)

	expect("no key", "GET", "/v1/connectors", "", nil, 401)
	// Refused before routing (no key, a wrong one, a wrong method): the line
	// still names the user by a hash.
	expect("vault read, no key", "GET", tokens, "", nil, 401)
	expect("vault read, a wrong key", "GET", tokens, "scope-wrong-"+strings.Repeat("x", 32), nil, 401)
	expect("vault put", "PUT", tokens, readKey, nil, 405)
	p.stop(t) // flushes the access log
	logs := p.logs.String()
	if strings.Contains(logs, "scope-") || strings.Contains(logs, rt) {
		t.Fatal("the log holds an API key or a token")
	}
	// Access lines name the vault's user by a hash only.
	if strings.Contains(logs, "/users/alice") || !strings.Contains(logs, "/v1/connectors/acme/users/~") {
		t.Fatal("the access log names the user of a vault path, or lost the line")
	}
}

// TestAPIClosedWithoutKeys: without api_keys, /v1 answers no one, on loopback
// too (a plugin, or any local user, could otherwise read the vault), while the
// browser routes keep working.
func TestAPIClosedWithoutKeys(t *testing.T) {
	cfg := strings.Replace(exampleConfig, `api_keys: ["k1-0123456789abcdef0123456789abcdef", "k2-0123456789abcdef0123456789abcdef"]`, "api_keys: []", 1)
	p := startIdplug(t, pluginFolder(t, "example"), cfg)
	for _, path := range []string{"/v1/connectors", "/v1/connectors/demo/users/alice/tokens", "/v1/openapi.json"} {
		status, body := p.call(t, "GET", path, "", nil)
		if status != 401 || !strings.Contains(jsonPath(body, "message").(string), "/v1 is closed") {
			t.Errorf("GET %s without api_keys: %d %v", path, status, body)
		}
	}
	status, body := p.call(t, "POST", "/v1/admin/reload", "anything-0123456789abcdef0123456789", nil)
	if status != 401 {
		t.Errorf("reload without api_keys: %d %v", status, body)
	}
	resp, _ := get(t, p.URL+"/sign-in/demo")
	mustEqual(t, "browser sign-in without api_keys", resp.StatusCode, 302)
}
