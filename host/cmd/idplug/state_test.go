package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idplug/idplug/host/oidcprovider"
	"github.com/idplug/idplug/host/store"
	"github.com/idplug/idplug/internal/oidctest"
	"github.com/idplug/idplug/internal/pgtest"
	"github.com/idplug/idplug/internal/plugintest"
	"github.com/idplug/idplug/internal/printable"
)

// The state tests run real idplug processes against the real OpenID provider,
// sharing a real PostgreSQL (or a SQLite file).

const (
	browserCallback = "http://127.0.0.1:1/callback/acme"
	vaultKeyA       = "vault-key-a-0123456789abcdef0123456789"
	vaultKeyB       = "vault-key-b-0123456789abcdef0123456789"
)

// stateProvider is the OpenID provider with a token endpoint in front of it
// that counts refresh grants and makes the tokens of a sign-in expire soon, so
// that the vault's first read must refresh them.
type stateProvider struct {
	*oidctest.Provider
	secret    string
	tokenURL  string
	refreshes atomic.Int32
}

func startStateProvider(t *testing.T) *stateProvider {
	t.Helper()
	secret := oidctest.NewClientSecret(t)
	sp := &stateProvider{secret: secret}
	sp.Provider = oidctest.Start(t, oidctest.Config{Clients: []oidctest.Client{{
		ID: "vault", Secret: secret, AuthMethod: "client_secret_post",
		RedirectURIs: []string{appRedirect, browserCallback},
	}}})
	client := &http.Client{Timeout: 15 * time.Second}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		form, _ := url.ParseQuery(string(body))
		grant := form.Get("grant_type")
		if grant == "refresh_token" {
			sp.refreshes.Add(1)
		}
		req, _ := http.NewRequestWithContext(r.Context(), "POST", sp.TokenEndpoint(), bytes.NewReader(body))
		req.Header = r.Header.Clone()
		resp, err := client.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		answer, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if grant == "authorization_code" && resp.StatusCode == 200 {
			var fields map[string]any
			if json.Unmarshal(answer, &fields) == nil {
				fields["expires_in"] = 5 // inside the vault's refresh margin
				answer, _ = json.Marshal(fields)
			}
		}
		w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
		w.WriteHeader(resp.StatusCode)
		w.Write(answer)
	}))
	t.Cleanup(srv.Close)
	sp.tokenURL = srv.URL
	return sp
}

func (sp *stateProvider) connector() map[string]any {
	return map[string]any{"id": "acme", "plugin": "oauth2", "config": map[string]any{
		"authorizationEndpoint":   sp.AuthorizationEndpoint(),
		"tokenEndpoint":           sp.tokenURL,
		"userInfoEndpoint":        sp.UserinfoEndpoint(),
		"revocationEndpoint":      sp.RevocationEndpoint(),
		"issuer":                  sp.Issuer,
		"clientId":                "vault",
		"clientSecret":            sp.secret,
		"tokenEndpointAuthMethod": "client_secret_post",
		"scope":                   "openid profile email",
		"profileMap":              map[string]string{"id": "sub"},
		"storeTokens":             true,
	}}
}

// stateConfig is a config for the state tests: one connector, a store and vault keys.
func stateConfig(t *testing.T, sp *stateProvider, storeURL string, vaultKeys ...string) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"listen":       "127.0.0.1:0",
		"public_url":   "http://127.0.0.1:1",
		"plugin_dir":   "PLUGIN_DIR",
		"session_keys": []string{"${IDPLUG_SESSION_KEY}"},
		"log_format":   "json",
		// Generous: a store call under test load may take a while; an
		// outage is a refused connection, answered at once.
		"store":      map[string]any{"url": storeURL, "timeout": "5s"},
		"vault_keys": vaultKeys,
		"connectors": []map[string]any{sp.connector()},
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// startAPIFlow starts a sign-in on p and walks the provider; the flow is
// ready to be finished with user-info.
func startAPIFlow(t *testing.T, p *idplugProc, sp *stateProvider) map[string]any {
	t.Helper()
	status, auth := p.call(t, "POST", "/v1/connectors/acme/authorization-uri", "", map[string]any{"redirectUri": appRedirect})
	mustEqual(t, "authorization-uri status", status, 200)
	cb, err := sp.Authorize(context.Background(), jsonPath(auth, "redirectTo").(string), appRedirect)
	if err != nil {
		t.Fatal(err)
	}
	data := map[string]string{}
	for k, v := range cb.Query() {
		data[k] = v[0]
	}
	return map[string]any{"session": auth["session"], "data": data}
}

var stateClient = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// get sends a GET with cookies and returns the response, body read.
func get(t *testing.T, u string, cookies ...*http.Cookie) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := stateClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

// post sends a same-site form POST with cookies.
func post(t *testing.T, u string, cookies ...*http.Cookie) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", u, nil)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := stateClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	resp.Body.Close()
	return resp
}

// setCookie is the cookie resp set whose name ends with name; "idplug_flow"
// is the flow cookie, whichever its slot.
func setCookie(t *testing.T, resp *http.Response, name string) *http.Cookie {
	t.Helper()
	for _, c := range resp.Cookies() {
		if (strings.HasSuffix(c.Name, name) || name == "idplug_flow" && flowCookieName.MatchString(c.Name)) && c.Value != "" {
			return c
		}
	}
	t.Fatalf("no %s cookie in the answer (status %d)", name, resp.StatusCode)
	return nil
}

// browserSignIn starts a browser sign-in on `from` and finishes it on `to`;
// it returns the session cookie.
func browserSignIn(t *testing.T, sp *stateProvider, from, to *idplugProc) *http.Cookie {
	t.Helper()
	resp, _ := get(t, from.URL+"/sign-in/acme")
	mustEqual(t, "sign-in status", resp.StatusCode, 302)
	flowCookie := setCookie(t, resp, "idplug_flow")
	cb, err := sp.Authorize(context.Background(), resp.Header.Get("Location"), browserCallback)
	if err != nil {
		t.Fatal(err)
	}
	resp, body := get(t, to.URL+"/callback/acme?"+cb.RawQuery, flowCookie)
	if resp.StatusCode != 302 {
		t.Fatalf("callback status %d: %s", resp.StatusCode, body)
	}
	// The same callback again, with a copy of the flow cookie: refused.
	again, body := get(t, from.URL+"/callback/acme?"+cb.RawQuery, flowCookie)
	if again.StatusCode != 400 || !bytes.Contains(body, []byte("session_used")) {
		t.Fatalf("replayed browser callback: %d %s", again.StatusCode, body)
	}
	return setCookie(t, resp, "idplug_session")
}

func signedIn(t *testing.T, p *idplugProc, c *http.Cookie) bool {
	t.Helper()
	resp, body := get(t, p.URL+"/user", c)
	mustEqual(t, "/user status", resp.StatusCode, 200)
	var u map[string]any
	if err := json.Unmarshal(body, &u); err != nil {
		t.Fatal(err)
	}
	return u["isAuthenticated"] == true
}

// TestReplicasOnPostgres runs three idplug replicas on one PostgreSQL.
func TestReplicasOnPostgres(t *testing.T) {
	pg := pgtest.Start(t)
	sp := startStateProvider(t)
	plugins := pluginFolder(t, "oauth2")
	cfg := stateConfig(t, sp, pg.URL, vaultKeyA)
	var replicas []*idplugProc
	for range 3 {
		replicas = append(replicas, startIdplug(t, plugins, cfg))
	}

	t.Run("a flow finishes on another replica, once", func(t *testing.T) {
		flow := startAPIFlow(t, replicas[0], sp)
		status, body := replicas[1].call(t, "POST", "/v1/connectors/acme/user-info", "", flow)
		mustEqual(t, "user-info on another replica", status, 200)
		mustEqual(t, "user id", jsonPath(body, "userInfo", "id"), "alice")
		for i, r := range replicas {
			status, body := r.call(t, "POST", "/v1/connectors/acme/user-info", "", flow)
			if status != 400 || jsonPath(body, "code") != "session_used" {
				t.Fatalf("replay on replica %d: %d %v", i, status, body)
			}
		}
	})

	t.Run("sign-out on one replica ends the session on all", func(t *testing.T) {
		session := browserSignIn(t, sp, replicas[0], replicas[1])
		for i, r := range replicas {
			if !signedIn(t, r, session) {
				t.Fatalf("replica %d does not know the session", i)
			}
		}
		resp := post(t, replicas[2].URL+"/sign-out", session)
		mustEqual(t, "sign-out status", resp.StatusCode, 303)
		for i, r := range replicas {
			if signedIn(t, r, session) {
				t.Fatalf("a copy of the cookie is still signed in on replica %d after sign-out", i)
			}
		}
	})

	var stored map[string]any
	t.Run("one refresh for 48 callers on 3 replicas", func(t *testing.T) {
		flow := startAPIFlow(t, replicas[0], sp)
		status, body := replicas[0].call(t, "POST", "/v1/connectors/acme/user-info", "", flow)
		mustEqual(t, "user-info status", status, 200)
		signInToken := jsonPath(body, "tokens", "accessToken")
		before := sp.refreshes.Load()
		var wg sync.WaitGroup
		tokens := make(chan any, 48)
		for i := range 48 {
			wg.Go(func() {
				status, body := replicas[i%3].callQuiet("GET", "/v1/connectors/acme/users/alice/tokens")
				if status != 200 {
					t.Errorf("vault read: %d %v", status, body)
					return
				}
				tokens <- jsonPath(body, "tokens", "accessToken")
			})
		}
		wg.Wait()
		close(tokens)
		if n := sp.refreshes.Load() - before; n != 1 {
			t.Fatalf("%d refreshes at the provider, want exactly 1", n)
		}
		var first any
		for tok := range tokens {
			if first == nil {
				first = tok
			}
			if tok != first || tok == signInToken {
				t.Fatalf("callers got different or unrefreshed tokens")
			}
		}
		_, stored = replicas[1].call(t, "GET", "/v1/connectors/acme/users/alice/tokens", "", nil)
		mustEqual(t, "same tokens on read", jsonPath(stored, "tokens", "accessToken"), first)
	})

	t.Run("the database killed under load", func(t *testing.T) {
		if stored == nil {
			t.Skip("no tokens stored")
		}
		var wg sync.WaitGroup
		stop := make(chan struct{})
		var unavailable atomic.Int32
		for i := range 6 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					start := time.Now()
					status, body := replicas[i%3].callQuiet("GET", "/v1/connectors/acme/users/alice/tokens")
					took := time.Since(start)
					switch {
					case status == 200:
						if jsonPath(body, "tokens", "accessToken") != jsonPath(stored, "tokens", "accessToken") {
							t.Errorf("a read during the outage returned other tokens")
						}
					case status == 503 && jsonPath(body, "code") == "store_unavailable":
						unavailable.Add(1)
						// The store's timeout is 5s; generous for a busy machine.
						if took > 30*time.Second {
							t.Errorf("store_unavailable took %s", took)
						}
					default:
						t.Errorf("during the outage: %d %v", status, body)
					}
				}
			})
		}
		pg.Kill()
		// Wait until every replica fails closed, then bring the database back.
		for i, r := range replicas {
			waitFor(t, func() bool {
				status, body := r.callQuiet("GET", "/readyz")
				return status == 503 && jsonPath(body, "store", "ok") == false
			}, "replica %d to report the store down", i)
		}
		// Starting a flow needs no store; finishing it does, and fails closed.
		flow := startAPIFlow(t, replicas[0], sp)
		status, body := replicas[1].call(t, "POST", "/v1/connectors/acme/user-info", "", flow)
		if status != 503 || jsonPath(body, "code") != "store_unavailable" {
			t.Errorf("finishing a flow with the database down: %d %v", status, body)
		}
		// The client is told nothing of the database; the operator's log
		// says which call failed (the line may follow the answer, and the
		// lines are a second apart at most: the vault reads fail too).
		if !replicas[1].logs.comes(`"@message":"state store unavailable"`, 20*time.Second) ||
			!regexp.MustCompile(`state store unavailable.*the database cannot be reached: (consume_flow|get_tokens)`).MatchString(replicas[1].logs.String()) {
			t.Errorf("no log line names the store call that failed:\n%s", replicas[1].logs.String())
		}
		pg.Restart()
		for i, r := range replicas {
			waitFor(t, func() bool {
				status, _ := r.callQuiet("GET", "/v1/connectors/acme/users/alice/tokens")
				return status == 200
			}, "replica %d to serve the vault again", i)
		}
		close(stop)
		wg.Wait()
		if unavailable.Load() == 0 {
			t.Fatal("no request saw store_unavailable while the database was down")
		}
		for i, r := range replicas {
			_, body := r.call(t, "GET", "/v1/connectors/acme/users/alice/tokens", "", nil)
			if jsonPath(body, "tokens", "accessToken") != jsonPath(stored, "tokens", "accessToken") ||
				jsonPath(body, "tokens", "refreshToken") != jsonPath(stored, "tokens", "refreshToken") {
				t.Fatalf("replica %d reads other tokens after the restart", i)
			}
		}
		// The flow refused during the outage was never consumed: it still works.
		status, _ = replicas[2].call(t, "POST", "/v1/connectors/acme/user-info", "", flow)
		mustEqual(t, "the flow refused during the outage, after it", status, 200)
	})

	t.Run("delete revokes at the provider", func(t *testing.T) {
		_, body := replicas[0].call(t, "GET", "/v1/connectors/acme/users/alice/tokens", "", nil)
		refresh := jsonPath(body, "tokens", "refreshToken").(string)
		status, body := replicas[1].call(t, "DELETE", "/v1/connectors/acme/users/alice/tokens", "", nil)
		mustEqual(t, "delete status", status, 200)
		mustEqual(t, "revoked", jsonPath(body, "revoked"), true)
		status, _ = replicas[2].call(t, "GET", "/v1/connectors/acme/users/alice/tokens", "", nil)
		mustEqual(t, "read after delete", status, 404)
		status, _ = replicas[0].call(t, "POST", "/v1/connectors/acme/refresh", "", map[string]any{"refreshToken": refresh})
		if status == 200 {
			t.Fatal("the provider still honours the refresh token after the delete")
		}
	})

	// A rekey on PostgreSQL rebuilds no file: it says what the database keeps
	// (it had said "nothing sealed under an old key remains").
	t.Run("rekey says what PostgreSQL keeps", func(t *testing.T) {
		cfgPath := filepath.Join(t.TempDir(), "idplug.yaml")
		if err := os.WriteFile(cfgPath, []byte(stateConfig(t, sp, pg.URL, vaultKeyB, vaultKeyA)), 0o600); err != nil {
			t.Fatal(err)
		}
		out := runIdplugCommand(t, 0, "vault", "rekey", "--config", cfgPath)
		if !strings.Contains(out, "re-encrypted") || !strings.Contains(out, "VACUUM FULL vault_tokens") || strings.Contains(out, "remains") {
			t.Fatalf("rekey on PostgreSQL said: %s", out)
		}
	})
}

// callQuiet is call without the testing.T, for goroutines: a transport error is status 0.
func (p *idplugProc) callQuiet(method, path string) (int, map[string]any) {
	req, _ := http.NewRequest(method, p.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+p.apiKey)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return 0, map[string]any{"error": err.Error()}
	}
	defer resp.Body.Close()
	var out map[string]any
	data, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(data, &out)
	return resp.StatusCode, out
}

func waitFor(t *testing.T, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for "+format, args...)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSQLiteSingleUseVaultAndRekey: one idplug on a SQLite file.
func TestSQLiteSingleUseVaultAndRekey(t *testing.T) {
	sp := startStateProvider(t)
	plugins := pluginFolder(t, "oauth2")
	dbPath := filepath.Join(t.TempDir(), "state.db")
	p := startIdplug(t, plugins, stateConfig(t, sp, "sqlite:"+dbPath, vaultKeyA))

	flow := startAPIFlow(t, p, sp)
	status, body := p.call(t, "POST", "/v1/connectors/acme/user-info", "", flow)
	mustEqual(t, "user-info status", status, 200)
	signIn := body
	status, body = p.call(t, "POST", "/v1/connectors/acme/user-info", "", flow)
	mustEqual(t, "replay status", status, 400)
	mustEqual(t, "replay code", jsonPath(body, "code"), "session_used")
	session := browserSignIn(t, sp, p, p)
	if !signedIn(t, p, session) {
		t.Fatal("not signed in after the browser sign-in")
	}
	mustEqual(t, "sign-out status", post(t, p.URL+"/sign-out", session).StatusCode, 303)
	if signedIn(t, p, session) {
		t.Fatal("a copy of the cookie is still signed in after sign-out")
	}

	status, body = p.call(t, "GET", "/v1/connectors/acme/users/alice/tokens", "", nil)
	mustEqual(t, "vault read", status, 200)
	tokens := body
	if jsonPath(tokens, "tokens", "accessToken") == jsonPath(signIn, "tokens", "accessToken") {
		t.Fatal("the expiring tokens were not refreshed on read")
	}
	// Hostile or mistaken paths: named, never a 500.
	for _, tc := range []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", "/v1/connectors/acme/users/bob/tokens", 404, "not_found"},
		{"DELETE", "/v1/connectors/acme/users/bob/tokens", 404, "not_found"},
		{"GET", "/v1/connectors/acme/users/" + strings.Repeat("x", 600) + "/tokens", 400, "invalid_request_parameters"},
		// Ids no sign-in could have stored (PostgreSQL refuses a NUL: it had
		// answered 503 store_unavailable with the store up).
		{"GET", "/v1/connectors/acme/users/a%00b/tokens", 400, "invalid_request_parameters"},
		{"DELETE", "/v1/connectors/acme/users/ann%0Aadmin/tokens", 400, "invalid_request_parameters"},
		{"GET", "/v1/connectors/nope/users/alice/tokens", 404, "connector_not_found"},
		{"GET", "/v1/connectors/acme/users/alice%2F..%2Fbob/tokens", 404, "not_found"},
	} {
		status, body := p.call(t, tc.method, tc.path, "", nil)
		if status != tc.status || jsonPath(body, "code") != tc.code {
			t.Errorf("%s %s: %d %v, want %d %s", tc.method, tc.path[:min(len(tc.path), 60)], status, body, tc.status, tc.code)
		}
	}
	p.stop(t)
	checkNoPlaintext(t, dbPath, jsonPath(tokens, "tokens", "accessToken").(string), jsonPath(tokens, "tokens", "refreshToken").(string))

	// Rotation: B first, A still opens; rekey moves every record to B, with
	// idplug running on the same file (its log then stays open).
	cfgBA := stateConfig(t, sp, "sqlite:"+dbPath, vaultKeyB, vaultKeyA)
	p = startIdplug(t, plugins, cfgBA)
	_, body = p.call(t, "GET", "/v1/connectors/acme/users/alice/tokens", "", nil)
	mustEqual(t, "read with B then A", jsonPath(body, "tokens", "accessToken"), jsonPath(tokens, "tokens", "accessToken"))
	sealedUnderA := sealedRecord(t, dbPath)
	out := runIdplugCommand(t, 0, "vault", "rekey", "--config", p.configPath)
	if !strings.Contains(out, "re-encrypted 1 vault records") || !strings.Contains(out, "checkpointed the store's write-ahead log") {
		t.Fatalf("rekey said: %s", out)
	}
	// The record sealed under A is in neither the file nor its log any more.
	for _, f := range []string{dbPath, dbPath + "-wal"} {
		if b, err := os.ReadFile(f); err == nil && bytes.Contains(b, sealedUnderA) {
			t.Fatalf("%s still holds the record sealed under the old key", filepath.Base(f))
		}
	}
	if !strings.Contains(out, "idplug serve is using the store, so its file was not rebuilt") {
		t.Errorf("rekey beside idplug serve does not say the file was not rebuilt: %s", out)
	}
	p.stop(t)
	// With idplug stopped, the file is rebuilt: what was freed before every
	// connection zeroed it is gone too.
	if out := runIdplugCommand(t, 0, "vault", "rekey", "--config", p.configPath); !strings.Contains(out, "re-encrypted 0 vault records") ||
		!strings.Contains(out, "rebuilt the store's file") {
		t.Fatalf("rekey with idplug stopped said: %s", out)
	}
	p = startIdplug(t, plugins, stateConfig(t, sp, "sqlite:"+dbPath, vaultKeyB))
	_, body = p.call(t, "GET", "/v1/connectors/acme/users/alice/tokens", "", nil)
	mustEqual(t, "read with only B after rekey", jsonPath(body, "tokens", "accessToken"), jsonPath(tokens, "tokens", "accessToken"))
	p.stop(t)

	// A key that does not open the record: the error names the missing key.
	p = startIdplug(t, plugins, stateConfig(t, sp, "sqlite:"+dbPath, vaultKeyA))
	status, body = p.call(t, "GET", "/v1/connectors/acme/users/alice/tokens", "", nil)
	if status != 500 || !strings.Contains(jsonPath(body, "message").(string), "add that key back to vault_keys") {
		t.Fatalf("read with the wrong key: %d %v", status, body)
	}
	if strings.Contains(p.logs.String(), vaultKeyA) || strings.Contains(p.logs.String(), jsonPath(tokens, "tokens", "accessToken").(string)) {
		t.Fatal("the log holds a vault key or a token")
	}
}

// sealedRecord reads the one vault record's sealed bytes from the SQLite file.
func sealedRecord(t *testing.T, dbPath string) []byte {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+dbPath+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var sealed []byte
	if err := db.QueryRowContext(t.Context(), "SELECT sealed FROM vault_tokens").Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if len(sealed) < 32 {
		t.Fatalf("a sealed record of %d bytes", len(sealed))
	}
	return sealed
}

// checkNoPlaintext reads the SQLite files and fails on any token in the clear.
func checkNoPlaintext(t *testing.T, dbPath string, secrets ...string) {
	t.Helper()
	for _, f := range []string{dbPath, dbPath + "-wal"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Fatalf("%s holds a token in the clear", filepath.Base(f))
			}
		}
	}
}

// runIdplugCommand runs the idplug binary to completion and returns its output;
// the exit code must be want.
func runIdplugCommand(t *testing.T, want int, args ...string) string {
	t.Helper()
	bin := plugintest.Binary(t, "./host/cmd/idplug")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "IDPLUG_SESSION_KEY="+testSessionKey)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if code != want {
		t.Fatalf("idplug %v exited %d, want %d:\n%s", args, code, want, out)
	}
	return string(out)
}

// TestSQLiteSurvivesKill: idplug killed with SIGKILL during a burst of flow
// consumptions; after a restart every consumption it acknowledged holds: the
// consumed ids lived in memory and are lost, so every flow sealed before the
// crash is refused as expired, saying why.
func TestSQLiteSurvivesKill(t *testing.T) {
	sp := startStateProvider(t)
	plugins := pluginFolder(t, "oauth2")
	dbPath := filepath.Join(t.TempDir(), "state.db")
	cfg := stateConfig(t, sp, "sqlite:"+dbPath, vaultKeyA)
	p := startIdplug(t, plugins, cfg)
	if strings.Contains(p.logs.String(), "stopped without saving") {
		t.Errorf("a first start warns of an unclean stop:\n%s", p.logs.String())
	}
	// A stored sign-in, to read back after the crash.
	flow := startAPIFlow(t, p, sp)
	status, _ := p.call(t, "POST", "/v1/connectors/acme/user-info", "", flow)
	mustEqual(t, "user-info status", status, 200)
	_, before := p.call(t, "GET", "/v1/connectors/acme/users/alice/tokens", "", nil)

	// Flows with a code the provider will refuse: finishing one consumes it
	// (an answer of 401 from the provider means the store acknowledged it).
	type started struct{ session, state string }
	var sessions []started
	for range 200 {
		_, auth := p.call(t, "POST", "/v1/connectors/acme/authorization-uri", "", map[string]any{"redirectUri": appRedirect})
		sessions = append(sessions, started{auth["session"].(string), auth["state"].(string)})
	}
	var mu sync.Mutex
	var acknowledged []started
	var wg sync.WaitGroup
	next := atomic.Int32{}
	for range 8 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(sessions) {
					return
				}
				if i == 100 {
					p.cmd.Process.Kill() // mid-burst
				}
				status, _ := postQuiet(p, "/v1/connectors/acme/user-info", map[string]any{"session": sessions[i].session, "data": map[string]string{"code": "x", "state": sessions[i].state}})
				if status != 0 && status != 503 {
					mu.Lock()
					acknowledged = append(acknowledged, sessions[i])
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	<-p.done
	p.cmd.Wait()
	if len(acknowledged) == 0 {
		t.Fatal("no flow was finished before the kill")
	}
	p = startIdplug(t, plugins, cfg)
	// The operator hears of it at start, not from the users it turns away.
	if !strings.Contains(p.logs.String(), "the last run stopped without saving its consumed sign-ins") {
		t.Errorf("no warning at the start after the kill:\n%s", p.logs.String())
	}
	for _, s := range acknowledged {
		status, body := p.call(t, "POST", "/v1/connectors/acme/user-info", "", map[string]any{"session": s.session, "data": map[string]string{"code": "x", "state": s.state}})
		if status != 400 || jsonPath(body, "code") != "session_expired" || !strings.Contains(jsonPath(body, "message").(string), "unclean stop") {
			t.Fatalf("a flow finished before the kill is usable again: %d %v", status, body)
		}
	}
	_, after := p.call(t, "GET", "/v1/connectors/acme/users/alice/tokens", "", nil)
	mustEqual(t, "tokens after the crash", jsonPath(after, "tokens", "refreshToken"), jsonPath(before, "tokens", "refreshToken"))
}

func postQuiet(p *idplugProc, path string, body any) (int, map[string]any) {
	j, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", p.URL+path, bytes.NewReader(j))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+p.apiKey)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	var out map[string]any
	data, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(data, &out)
	return resp.StatusCode, out
}

// TestStatelessMode: with store.url off, idplug keeps today's stateless
// behaviour: the session lives in its cookie (under 4 KB, fields dropped to
// fit), and the vault routes say the connector keeps no tokens.
func TestStatelessMode(t *testing.T) {
	cfg := strings.Replace(browserConfig, "log_format: json\n", "log_format: json\nstore: {url: \"off\"}\n", 1)
	cfg = strings.Replace(cfg, "GREETING", strings.Repeat("G", 5000), 1)
	p := startIdplug(t, pluginFolder(t, "example"), cfg)
	resp, _ := get(t, p.URL+"/sign-in/big")
	mustEqual(t, "sign-in status", resp.StatusCode, 302)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	resp, body := get(t, p.URL+"/callback/big?code=ada&state="+loc.Query().Get("state"), setCookie(t, resp, "idplug_flow"))
	if resp.StatusCode != 302 {
		t.Fatalf("callback: %d %s", resp.StatusCode, body)
	}
	session := setCookie(t, resp, "idplug_session")
	if len(session.Name)+len(session.Value) > 4000 {
		t.Fatalf("session cookie of %d bytes", len(session.Value))
	}
	_, body = get(t, p.URL+"/user", session)
	var user map[string]any
	_ = json.Unmarshal(body, &user)
	mustEqual(t, "sub", jsonPath(user, "claims", "sub"), "ada")
	mustEqual(t, "name dropped to fit the cookie", jsonPath(user, "claims", "name"), nil)
	status, res := p.call(t, "GET", "/v1/connectors/demo/users/ada/tokens", "", nil)
	mustEqual(t, "vault read without a store", status, 404)
	if !strings.Contains(jsonPath(res, "message").(string), "does not keep tokens") {
		t.Fatalf("vault read without a store: %v", res)
	}
	status, body2 := p.callQuiet("GET", "/readyz")
	mustEqual(t, "readyz", status, 200)
	if _, has := body2["store"]; has {
		t.Fatalf("readyz reports a store in stateless mode: %v", body2)
	}
}

// TestMigrateCommand: idplug migrate applies the schema ahead of a rollout;
// idplug vault rekey without vault keys says what is missing.
func TestMigrateCommand(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "idplug.yaml")
	write := func(extra string) {
		cfg := "plugin_dir: " + dir + "\nsession_keys: [\"${IDPLUG_SESSION_KEY}\"]\nstore: {url: \"sqlite:state.db\"}\n" + extra
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// Only migrate (and serve) make the database or move its schema: a
	// maintenance command run by a newer binary had migrated the schema
	// ahead of the replicas still running, and one pointed at the wrong
	// path made an empty database there.
	write("vault_keys: [\"" + strings.Repeat("v", 32) + "\"]\n")
	out := runIdplugCommand(t, 1, "vault", "rekey", "--config", cfgPath)
	if !strings.Contains(out, "there is no database at "+filepath.Join(dir, "state.db")) {
		t.Fatalf("rekey before the database exists said: %s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "state.db")); err == nil {
		t.Fatal("idplug vault rekey made a database")
	}
	write("")
	out = runIdplugCommand(t, 0, "migrate", "--config", cfgPath)
	if !strings.Contains(out, "sqlite store is at schema version "+strconv.Itoa(store.SchemaVersion())) {
		t.Fatalf("migrate said: %s", out)
	}
	if st, err := os.Stat(filepath.Join(dir, "state.db")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("the database beside the config: %v, %v", st, err)
	}
	runIdplugCommand(t, 0, "migrate", "--config", cfgPath) // again: nothing to do
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "state.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	version := func() (v int) {
		t.Helper()
		if err := db.QueryRowContext(t.Context(), "SELECT MAX(version) FROM schema_migrations").Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	// As a database an older release migrated looks to this one (the
	// migration's row aside, and put back after).
	if _, err := db.ExecContext(t.Context(), "UPDATE schema_migrations SET version = -version WHERE version = ?", store.SchemaVersion()); err != nil {
		t.Fatal(err)
	}
	write("vault_keys: [\"" + strings.Repeat("v", 32) + "\"]\n")
	out = runIdplugCommand(t, 1, "vault", "rekey", "--config", cfgPath)
	if !strings.Contains(out, "run idplug migrate") || version() != store.SchemaVersion()-1 {
		t.Fatalf("rekey on a schema behind (now at %d) said: %s", version(), out)
	}
	if _, err := db.ExecContext(t.Context(), "UPDATE schema_migrations SET version = -version WHERE version < 0"); err != nil {
		t.Fatal(err)
	}
	write("")
	// The usage before the configuration: one that lacks a variable hides nothing.
	out = runIdplugCommand(t, 2, "keys", "withdraw", "--config", filepath.Join(dir, "missing.yaml"))
	if !strings.Contains(out, "name the keys with --key ID") {
		t.Fatalf("keys withdraw without a key said: %s", out)
	}
	out = runIdplugCommand(t, 1, "vault", "rekey", "--config", cfgPath)
	if !strings.Contains(out, "vault_keys: none are configured") {
		t.Fatalf("rekey without keys said: %s", out)
	}
	write("vault_keys: [short]\n")
	out = runIdplugCommand(t, 1, "vault", "rekey", "--config", cfgPath)
	if !strings.Contains(out, "vault_keys[0]: is 5 bytes, needs at least 32") {
		t.Fatalf("rekey with a short key said: %s", out)
	}
}

// TestVaultRefreshRefused: a refresh the provider refuses marks the record;
// reads answer social_invalid_access_token without asking the provider again,
// until a new sign-in replaces the record.
func TestVaultRefreshRefused(t *testing.T) {
	sp := startStateProvider(t)
	p := startIdplug(t, pluginFolder(t, "oauth2"), stateConfig(t, sp, "sqlite:"+filepath.Join(t.TempDir(), "state.db"), vaultKeyA))
	signIn := func() map[string]any {
		status, body := p.call(t, "POST", "/v1/connectors/acme/user-info", "", startAPIFlow(t, p, sp))
		mustEqual(t, "user-info status", status, 200)
		return body
	}
	body := signIn()
	// The grant revoked behind idplug's back, at the provider itself.
	form := url.Values{"token": {jsonPath(body, "tokens", "refreshToken").(string)}, "client_id": {"vault"}, "client_secret": {sp.secret}}
	resp, err := http.PostForm(sp.RevocationEndpoint(), form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	mustEqual(t, "revocation at the provider", resp.StatusCode, 200)

	before := sp.refreshes.Load()
	for range 2 {
		status, body := p.call(t, "GET", "/v1/connectors/acme/users/alice/tokens", "", nil)
		if status != 401 || jsonPath(body, "code") != "social_invalid_access_token" {
			t.Fatalf("read after the grant was revoked: %d %v", status, body)
		}
	}
	if n := sp.refreshes.Load() - before; n != 1 {
		t.Fatalf("%d refreshes at the provider, want 1 (the marked record is not retried)", n)
	}
	signIn()
	status, _ := p.call(t, "GET", "/v1/connectors/acme/users/alice/tokens", "", nil)
	mustEqual(t, "read after a new sign-in", status, 200)
}

// A key row's id is whatever a writer of the store put there: idplug keys
// list and withdraw print it escaped and bounded, never as terminal controls.
func TestKeyIDsArePrintedEscaped(t *testing.T) {
	hostile := "\x1b]52;c;aGk=\x07\x1b[2J" + strings.Repeat("x", 5000)
	var list bytes.Buffer
	printKeys(&list, []oidcprovider.KeyInfo{{ID: hostile, State: "unreadable"}})
	ids := make([]string, 20)
	for i := range ids {
		ids[i] = hostile
	}
	for what, out := range map[string]string{"list": list.String(), "withdraw": shownIDs(ids)} {
		if strings.ContainsAny(out, "\x1b\x07") || len(out) > 2000 {
			t.Errorf("keys %s printed %d bytes, controls included: %q", what, len(out), printable.Cut(out, 200))
		}
	}
	if !strings.HasSuffix(shownIDs(ids), "and 4 more") {
		t.Errorf("20 ids listed as %q", printable.Cut(shownIDs(ids), 100))
	}
}
