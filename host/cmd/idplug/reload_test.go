package main

import (
	"bufio"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// rewrite replaces the running idplug's configuration file.
func (p *idplugProc) rewrite(t *testing.T, pluginDir, config string) {
	t.Helper()
	config = strings.ReplaceAll(config, "PLUGIN_DIR", pluginDir)
	if p.apiKey != "" {
		config, _ = withHarnessKey(config)
	}
	if err := os.WriteFile(p.configPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
}

const adminKey = "k1-0123456789abcdef0123456789abcdef"

// wantConnectors checks that p lists n connectors (after a refused reload: the
// old configuration, whole).
func (p *idplugProc) wantConnectors(t *testing.T, n int) {
	t.Helper()
	status, body := p.call(t, "GET", "/v1/connectors", adminKey, nil)
	mustEqual(t, "status", status, 200)
	mustEqual(t, "connectors", len(jsonPath(body, "connectors").([]any)), n)
}

func TestReloadAddsChangesAndRemovesConnectors(t *testing.T) {
	dir := pluginFolder(t, "example")
	p := startIdplug(t, dir, exampleConfig)

	// A browser signed in with demo, which the reload removes.
	resp, _ := get(t, p.URL+"/sign-in/demo")
	mustEqual(t, "sign-in status", resp.StatusCode, 302)
	flowCookie := setCookie(t, resp, "idplug_flow")
	loc, _ := url.Parse(resp.Header.Get("Location"))
	resp, _ = get(t, p.URL+"/callback/demo?code=ada&state="+url.QueryEscape(loc.Query().Get("state")), flowCookie)
	mustEqual(t, "callback status", resp.StatusCode, 302)
	session := setCookie(t, resp, "idplug_session")
	if !signedIn(t, p, session) {
		t.Fatal("not signed in with demo")
	}

	// Add a third connector, change "other", drop "demo".
	next := strings.Replace(exampleConfig, `  - id: demo
    plugin: example
    name: {en: Demo ID}
    config:
      authorizationEndpoint: https://id.example.test/authorize
      clientId: demo-client
`, `  - id: third
    plugin: example
    config:
      authorizationEndpoint: https://third.example.test/authorize
      clientId: third-client
`, 1)
	next = strings.Replace(next, "greeting: Hi", "greeting: Howdy", 1)
	p.rewrite(t, dir, next)
	status, body := p.call(t, "POST", "/v1/admin/reload", adminKey, nil)
	mustEqual(t, "reload status", status, 200)
	mustEqual(t, "connectors", jsonPath(body, "connectors"), 2)

	status, _ = p.call(t, "GET", "/v1/connectors/demo", adminKey, nil)
	mustEqual(t, "removed connector", status, 404)
	// Its users are signed out at once (an operator removes a connector found
	// hostile), not at the end of session_ttl.
	if signedIn(t, p, session) {
		t.Error("a session of the removed connector is still signed in")
	}
	_, auth := p.call(t, "POST", "/v1/connectors/third/authorization-uri", adminKey, map[string]any{"redirectUri": "https://app.test/cb"})
	if !strings.HasPrefix(jsonPath(auth, "redirectTo").(string), "https://third.example.test/authorize?") {
		t.Fatalf("added connector: %v", auth)
	}
	_, auth = p.call(t, "POST", "/v1/connectors/other/authorization-uri", adminKey, map[string]any{"redirectUri": "https://app.test/cb"})
	_, body = p.call(t, "POST", "/v1/connectors/other/user-info", adminKey,
		map[string]any{"session": jsonPath(auth, "session"), "data": map[string]any{"code": "ada", "state": jsonPath(auth, "state")}})
	mustEqual(t, "changed connector", jsonPath(body, "userInfo", "name"), "Howdy, ada")

	// demo comes back (the plugin fixed): the sessions it made before its
	// removal stay signed out, and a new sign-in with it works.
	p.rewrite(t, dir, exampleConfig)
	status, _ = p.call(t, "POST", "/v1/admin/reload", adminKey, nil)
	mustEqual(t, "reload status", status, 200)
	if signedIn(t, p, session) {
		t.Error("a session made before the connector was removed is signed in again")
	}
	resp, _ = get(t, p.URL+"/sign-in/demo")
	flowCookie = setCookie(t, resp, "idplug_flow")
	loc, _ = url.Parse(resp.Header.Get("Location"))
	resp, _ = get(t, p.URL+"/callback/demo?code=ada&state="+url.QueryEscape(loc.Query().Get("state")), flowCookie)
	if !signedIn(t, p, setCookie(t, resp, "idplug_session")) {
		t.Error("a new sign-in with the connector back is not signed in")
	}
}

func TestReloadRefusesABadConfigurationWhole(t *testing.T) {
	dir := pluginFolder(t, "example")
	p := startIdplug(t, dir, exampleConfig)
	cases := []struct{ name, config, message string }{
		{"invalid connector", strings.Replace(exampleConfig, "clientId: other-client", `clientId: ""`, 1), "config.clientId: is required"},
		{"unknown key", exampleConfig + "\nsurprise: 1\n", "surprise"},
		{"setting that needs a restart", strings.Replace(exampleConfig, "http://127.0.0.1:1", "http://127.0.0.1:2", 1), "[public_url] changed: these settings need a restart"},
		{"another store", strings.Replace(exampleConfig, "log_format: json\n", "log_format: json\nstore: {url: \"sqlite:other.db\"}\n", 1), "[store] changed: these settings need a restart"},
		{"vault keys", strings.Replace(exampleConfig, "log_format: json\n", "log_format: json\nvault_keys: [\"vault-0123456789abcdef0123456789abcdef\"]\n", 1), "[vault_keys] changed: these settings need a restart"},
		{"trusted proxies", strings.Replace(exampleConfig, "log_format: json\n", "log_format: json\nhttp: {trusted_proxies: [10.0.0.0/8]}\n", 1), "[http] changed: these settings need a restart"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p.rewrite(t, dir, tc.config)
			status, body := p.call(t, "POST", "/v1/admin/reload", adminKey, nil)
			mustEqual(t, "status", status, 400)
			if msg := jsonPath(body, "message").(string); !strings.Contains(msg, tc.message) {
				t.Fatalf("message = %q", msg)
			}
			// The old configuration keeps serving, all of it.
			p.wantConnectors(t, 2)
		})
	}
}

func TestSIGHUPReloadsAndRotatesAPIKeys(t *testing.T) {
	dir := pluginFolder(t, "example")
	p := startIdplug(t, dir, exampleConfig)
	p.rewrite(t, dir, strings.Replace(exampleConfig, `api_keys: ["k1-0123456789abcdef0123456789abcdef", "k2-0123456789abcdef0123456789abcdef"]`, `api_keys: ["k3-0123456789abcdef0123456789abcdef"]`, 1))
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	p.waitLog(t, "configuration reloaded")
	status, _ := p.call(t, "GET", "/v1/connectors", "k1-0123456789abcdef0123456789abcdef", nil)
	mustEqual(t, "old key", status, 401)
	status, _ = p.call(t, "GET", "/v1/connectors", "k3-0123456789abcdef0123456789abcdef", nil)
	mustEqual(t, "new key", status, 200)
}

// A reload's OpenID Provider is checked with the session keys it will seal
// under: a file whose session_keys open none of the stored signing keys (a
// restart with it refuses to start) is refused whole, and the provider goes
// on serving; a file that puts a new key first and keeps the old one reloads.
// The check had used the running session keys, so the first file was taken and
// the provider failed once its key cache expired.
func TestReloadChecksTheProvidersKeysUnderTheNewSessionKeys(t *testing.T) {
	dir := pluginFolder(t, "example")
	provider := `provider:
  clients:
    - id: app
      secret: rp-secret-0123456789abcdef0123456789abcdef
      redirect_uris: [https://app.test/callback]
`
	cfg := exampleConfig + provider
	p := startIdplug(t, dir, cfg)
	keysServed := func(when string) {
		t.Helper()
		if resp, body := get(t, p.URL+"/oidc/keys"); resp.StatusCode != 200 {
			t.Fatalf("%s: GET /oidc/keys = %d %s", when, resp.StatusCode, body)
		}
	}
	keysServed("at start")
	const newKey = "another-session-key-0123456789abcdef0123456789"
	oldKeys := `session_keys: ["${IDPLUG_SESSION_KEY}"]`

	p.rewrite(t, dir, strings.Replace(cfg, oldKeys, `session_keys: ["`+newKey+`"]`, 1))
	status, body := p.call(t, "POST", "/v1/admin/reload", adminKey, nil)
	mustEqual(t, "reload without the key of the signing keys", status, 400)
	if msg, _ := jsonPath(body, "message").(string); !strings.Contains(msg, "provider: signing keys") {
		t.Errorf("message = %q; want it to name the provider's signing keys", msg)
	}
	keysServed("after the refused reload")

	p.rewrite(t, dir, strings.Replace(cfg, oldKeys, `session_keys: ["`+newKey+`", "${IDPLUG_SESSION_KEY}"]`, 1))
	status, body = p.call(t, "POST", "/v1/admin/reload", adminKey, nil)
	mustEqual(t, fmt.Sprintf("reload with a new key first and the old one kept (%v)", body), status, 200)
	keysServed("after the rotation")
}

// A sandbox key is matched against the folder's plugins at start only: a
// plugin removed from the live folder while a key still names it had blocked
// every reload (with the key kept, it named no plugin; without it, the
// sandbox had changed, which needs a restart).
func TestReloadAfterARemovedPluginTheSandboxNames(t *testing.T) {
	dir := pluginFolder(t, "example", "github")
	config := exampleConfig + "sandbox: {egress_allow: {github: [github.com]}}\n"
	p := startIdplug(t, dir, config)
	if err := os.Remove(filepath.Join(dir, "idplug-connector-github")); err != nil {
		t.Fatal(err)
	}
	p.waitLog(t, "plugin file removed")
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	p.waitLog(t, "configuration reloaded")
}

// scrapeGauge reads one gauge without labels from idplug's /metrics.
func scrapeGauge(t *testing.T, p *idplugProc, name string) float64 {
	t.Helper()
	resp, err := http.Get(p.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("/metrics has no %s", name)
	return 0
}

// A refused reload shows on /metrics, not only in the log: a SIGHUP has no
// one to answer (systemd's ExecReload reports success whatever idplug did).
func TestReloadOutcomeOnMetrics(t *testing.T) {
	dir := pluginFolder(t, "example")
	p := startIdplug(t, dir, exampleConfig)
	const ok, at = "idplug_config_last_reload_successful", "idplug_config_last_reload_success_timestamp_seconds"
	mustEqual(t, "at start: "+ok, scrapeGauge(t, p, ok), 1)
	started := scrapeGauge(t, p, at)
	if started <= 0 {
		t.Fatalf("%s = %v at start", at, started)
	}

	p.rewrite(t, dir, exampleConfig+"\nsurprise: 1\n")
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	p.waitLog(t, "configuration reload refused")
	mustEqual(t, "after a refused reload: "+ok, scrapeGauge(t, p, ok), 0)
	mustEqual(t, "after a refused reload: "+at, scrapeGauge(t, p, at), started)

	p.rewrite(t, dir, exampleConfig)
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	p.waitLog(t, "configuration reloaded")
	mustEqual(t, "after the file was mended: "+ok, scrapeGauge(t, p, ok), 1)
	if now := scrapeGauge(t, p, at); now <= started {
		t.Errorf("%s = %v after a reload that applied, %v at start", at, now, started)
	}
}

// A reload keeps what the OpenID Provider counted per address: it had built
// the provider with fresh limits, so an address shut out for guessing client
// secrets (429) got ten more guesses at each reload.
func TestReloadKeepsTheProvidersLimits(t *testing.T) {
	dir := pluginFolder(t, "example")
	p := startIdplug(t, dir, exampleConfig+`provider:
  clients:
    - id: app
      secret: rp-secret-0123456789abcdef0123456789abcdef
      redirect_uris: [https://app.test/callback]
`)
	guess := func() int {
		t.Helper()
		req, _ := http.NewRequest("POST", p.URL+"/oidc/oauth/token",
			strings.NewReader(url.Values{"grant_type": {"authorization_code"}, "code": {"nothing"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("app", "guess")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	status := 0
	for range 12 {
		status = guess()
	}
	mustEqual(t, "after 12 wrong secrets", status, http.StatusTooManyRequests)
	status, _ = p.call(t, "POST", "/v1/admin/reload", adminKey, nil)
	mustEqual(t, "reload status", status, 200)
	mustEqual(t, "a wrong secret after the reload", guess(), http.StatusTooManyRequests)
}
