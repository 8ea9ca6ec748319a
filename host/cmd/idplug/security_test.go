package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/idplug/idplug/internal/oidctest"
	"github.com/idplug/idplug/internal/plugintest"
	"golang.org/x/sys/unix"
)

// The HTTP and browser defences of docs/security.md, against the real binary.

const apiKey = "k1-0123456789abcdef0123456789abcdef"

// noRedirects is a client that shows each redirect instead of following it.
func noRedirects(jar http.CookieJar) *http.Client {
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// do sends a request and returns the response with its body read.
func do(t *testing.T, c *http.Client, method, rawURL string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// calls reads idplug_connector_calls_total for one connector and call from /metrics.
func calls(t *testing.T, metricsURL, connector, rpc string) int {
	t.Helper()
	_, text := do(t, http.DefaultClient, "GET", metricsURL, nil)
	re := regexp.MustCompile(`idplug_connector_calls_total\{code="[^"]*",connector="` + connector + `",plugin="[^"]*",rpc="` + rpc + `"\} (\d+)`)
	total := 0
	for _, m := range re.FindAllStringSubmatch(text, -1) {
		n, _ := strconv.Atoi(m[1])
		total += n
	}
	return total
}

func TestConfigRefusesAnOpenAPI(t *testing.T) {
	bin := plugintest.Binary(t, "./host/cmd/idplug")
	dir := pluginFolder(t)
	for name, tc := range map[string]struct{ config, want string }{
		"behind a reverse proxy without api_keys": {
			"listen: 127.0.0.1:0\npublic_url: https://id.example.com/idp\n",
			"api_keys: is required when public_url (https://id.example.com/idp) is not a loopback address",
		},
		"a short API key": {
			"listen: 127.0.0.1:0\npublic_url: https://id.example.com\napi_keys: [short-key-123]\n",
			"api_keys[0]: is 13 bytes, needs at least 32",
		},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "idplug.yaml")
			cfg := tc.config + "plugin_dir: " + dir + "\nsession_keys: [\"" + testSessionKey + "\"]\n"
			if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(bin, "serve", "--config", path).CombinedOutput()
			if code := exitCode(err); code != 1 {
				t.Fatalf("exit code %d, want 1:\n%s", code, out)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Fatalf("output lacks %q:\n%s", tc.want, out)
			}
			if strings.Contains(string(out), "short-key-123") {
				t.Fatal("the error repeats the key")
			}
		})
	}
}

func exitCode(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// TestSignInUnderAPublicPath signs in through idplug served under /idp of its
// public_url, against the real OpenID provider, with a cookie jar like a browser:
// every link, redirect, callback URL and cookie path carries the path.
func TestSignInUnderAPublicPath(t *testing.T) {
	const public = "http://127.0.0.1:1/idp"
	callbackURL := public + "/callback/demo"
	secret := oidctest.NewClientSecret(t)
	provider := oidctest.Start(t, oidctest.Config{Clients: []oidctest.Client{{
		ID: "client-demo", AuthMethod: "client_secret_basic", Secret: secret, RedirectURIs: []string{callbackURL},
	}}})
	cfg, _ := json.Marshal(map[string]any{
		"listen": "127.0.0.1:0", "public_url": public, "plugin_dir": "PLUGIN_DIR",
		"session_keys": []string{"${IDPLUG_SESSION_KEY}"}, "log_format": "json",
		"connectors": []map[string]any{{"id": "demo", "plugin": "oauth2", "config": map[string]any{
			"authorizationEndpoint": provider.AuthorizationEndpoint(), "tokenEndpoint": provider.TokenEndpoint(),
			"userInfoEndpoint": provider.UserinfoEndpoint(), "issuer": provider.Issuer,
			"clientId": "client-demo", "clientSecret": secret, "scope": "openid profile email",
			"profileMap": map[string]string{"id": "sub"},
		}}},
	})
	p := startIdplug(t, pluginFolder(t, "oauth2"), string(cfg))
	base := p.URL + "/idp"
	jar, _ := cookiejar.New(nil)
	c := noRedirects(jar)

	resp, page := do(t, c, "GET", base+"/", nil)
	mustEqual(t, "home status", resp.StatusCode, 200)
	if !strings.Contains(page, `href="/idp/sign-in/demo"`) {
		t.Fatalf("the home page's sign-in link lacks the path:\n%s", page)
	}
	resp, _ = do(t, c, "GET", p.URL+"/sign-in/demo", nil)
	mustEqual(t, "outside the path", resp.StatusCode, 404)
	// The router's own redirects keep the path too.
	for in, want := range map[string]string{"/idp": "/idp/", "/idp//user": "/idp/user", "/idp/v1": "/idp/v1/"} {
		resp, _ = do(t, c, "GET", p.URL+in, nil)
		mustEqual(t, "redirect of "+in, resp.Header.Get("Location"), want)
	}

	resp, _ = do(t, c, "GET", base+"/sign-in/demo?returnTo=/idp/user", nil)
	mustEqual(t, "sign-in status", resp.StatusCode, 302)
	flow := flowCookieOf(resp)
	if flow == nil || flow.Path != "/idp/" {
		t.Fatalf("flow cookie = %v", flow)
	}
	callback, err := provider.Authorize(context.Background(), resp.Header.Get("Location"), callbackURL)
	if err != nil {
		t.Fatal(err)
	}
	if callback.Path != "/idp/callback/demo" {
		t.Fatalf("the provider called back %s", callback)
	}
	resp, _ = do(t, c, "GET", base+"/callback/demo?"+callback.RawQuery, nil)
	mustEqual(t, "callback status", resp.StatusCode, 302)
	mustEqual(t, "callback redirect", resp.Header.Get("Location"), "/idp/user")
	session := cookieNamed(resp, "idplug_session")
	if session == nil || session.Path != "/idp/" || len(session.Name)+len(session.Value) > 4000 {
		t.Fatalf("session cookie = %v", session)
	}
	t.Logf("cookies: flow %d bytes, session %d bytes", len(flow.Value), len(session.Value))

	var user map[string]any
	_, body := do(t, c, "GET", base+"/user", nil)
	_ = json.Unmarshal([]byte(body), &user)
	mustEqual(t, "signed in", jsonPath(user, "isAuthenticated"), true)
	mustEqual(t, "sub", jsonPath(user, "claims", "sub"), "alice")
	mustEqual(t, "email", jsonPath(user, "userInfo", "email"), "alice@example.com")

	// Sign out: the page's button posts the form from this site.
	_, page = do(t, c, "GET", base+"/", nil)
	if !strings.Contains(page, `<form method="post" action="/idp/sign-out">`) {
		t.Fatalf("no sign-out form:\n%s", page)
	}
	resp, _ = do(t, c, "POST", base+"/sign-out", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": p.URL})
	mustEqual(t, "sign-out status", resp.StatusCode, 303)
	mustEqual(t, "sign-out redirect", resp.Header.Get("Location"), "/idp/")
	_, body = do(t, c, "GET", base+"/user", nil)
	if !strings.Contains(body, `"isAuthenticated":false`) {
		t.Fatalf("still signed in: %s", body)
	}
}

// flowCookieOf is the flow cookie a sign-in's answer set, whichever its slot.
func flowCookieOf(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if flowCookieName.MatchString(c.Name) && c.Value != "" {
			return c
		}
	}
	return nil
}

var flowCookieName = regexp.MustCompile(`^(__Host-)?idplug_flow_[0-7]$`)

func cookieNamed(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

const browserConfig = `
listen: 127.0.0.1:0
public_url: http://127.0.0.1:1
plugin_dir: PLUGIN_DIR
session_keys: ["${IDPLUG_SESSION_KEY}"]
log_format: json
connectors:
  - id: demo
    plugin: example
    config: {authorizationEndpoint: "https://id.example.test/authorize", clientId: demo}
  - id: other
    plugin: example
    config: {authorizationEndpoint: "https://other.example.test/authorize", clientId: other}
  - id: evil
    plugin: example
    config: {authorizationEndpoint: "javascript://x/%0aalert(document.cookie)", clientId: evil}
  - id: big
    plugin: example
    config: {authorizationEndpoint: "https://id.example.test/authorize", clientId: big, greeting: GREETING}
`

// TestBrowserFlowAttacks plays the attacker against the browser routes.
func TestBrowserFlowAttacks(t *testing.T) {
	p := startIdplug(t, pluginFolder(t, "example"), strings.Replace(browserConfig, "GREETING", strings.Repeat("G", 5000), 1))
	c := noRedirects(nil)
	metricsURL := p.URL + "/metrics"

	// startFlow begins a sign-in and returns its flow cookie and state.
	startFlow := func(t *testing.T, id string) (*http.Cookie, string) {
		t.Helper()
		resp, _ := do(t, c, "GET", p.URL+"/sign-in/"+id, nil)
		mustEqual(t, "sign-in status", resp.StatusCode, 302)
		loc, _ := url.Parse(resp.Header.Get("Location"))
		return flowCookieOf(resp), loc.Query().Get("state")
	}
	withCookie := func(c *http.Cookie) map[string]string { return map[string]string{"Cookie": c.Name + "=" + c.Value} }
	noCookieCleared := func(t *testing.T, resp *http.Response) {
		t.Helper()
		if sc := resp.Header.Values("Set-Cookie"); len(sc) > 0 {
			t.Fatalf("a refused callback set cookies: %v", sc)
		}
	}

	t.Run("forged state", func(t *testing.T) {
		flow, state := startFlow(t, "demo")
		before := calls(t, metricsURL, "demo", "UserInfo")
		resp, page := do(t, c, "GET", p.URL+"/callback/demo?code=mallory&state=forged-"+state[:8], withCookie(flow))
		mustEqual(t, "status", resp.StatusCode, 400)
		if !strings.Contains(page, "state mismatch") {
			t.Fatalf("page:\n%s", page)
		}
		noCookieCleared(t, resp)
		mustEqual(t, "plugin calls", calls(t, metricsURL, "demo", "UserInfo"), before)
		// The browser's own sign-in is still there and completes.
		resp, _ = do(t, c, "GET", p.URL+"/callback/demo?code=ada&state="+state, withCookie(flow))
		mustEqual(t, "genuine callback", resp.StatusCode, 302)
		if cookieNamed(resp, "idplug_session") == nil || cookieNamed(resp, flow.Name).MaxAge >= 0 {
			t.Fatalf("the genuine callback did not sign in and spend the flow: %v", resp.Header.Values("Set-Cookie"))
		}
	})

	t.Run("flow cookie replayed to another connector", func(t *testing.T) {
		flow, state := startFlow(t, "demo")
		resp, page := do(t, c, "GET", p.URL+"/callback/other?code=ada&state="+state, withCookie(flow))
		mustEqual(t, "status", resp.StatusCode, 400)
		if !strings.Contains(page, "session_invalid") || !strings.Contains(page, "another connector") {
			t.Fatalf("page:\n%s", page)
		}
		noCookieCleared(t, resp)
	})

	t.Run("connector id checked before it reaches a cookie path", func(t *testing.T) {
		flow, state := startFlow(t, "demo")
		for _, id := range []string{"nope", "Demo", "demo;%20Path=%2F", "-x"} {
			resp, _ := do(t, c, "GET", p.URL+"/callback/"+id+"?code=a&state="+state, withCookie(flow))
			mustEqual(t, "status of "+id, resp.StatusCode, 404)
			noCookieCleared(t, resp)
			resp, _ = do(t, c, "GET", p.URL+"/sign-in/"+id, nil)
			mustEqual(t, "sign-in status of "+id, resp.StatusCode, 404)
			noCookieCleared(t, resp)
		}
	})

	t.Run("oversized returnTo refused before the plugin", func(t *testing.T) {
		before := calls(t, metricsURL, "demo", "AuthorizationURI")
		resp, _ := do(t, c, "GET", p.URL+"/sign-in/demo?returnTo=/"+strings.Repeat("a", 2000), nil)
		mustEqual(t, "status", resp.StatusCode, 400)
		mustEqual(t, "plugin calls", calls(t, metricsURL, "demo", "AuthorizationURI"), before)
	})

	t.Run("plugin answers a javascript: redirectTo", func(t *testing.T) {
		resp, page := do(t, c, "GET", p.URL+"/sign-in/evil", nil)
		mustEqual(t, "status", resp.StatusCode, 400)
		if resp.Header.Get("Location") != "" || !strings.Contains(page, "invalid_response") ||
			!strings.Contains(page, "connector evil (plugin example) returned a redirectTo that is not an http(s) URL") {
			t.Fatalf("location %q, page:\n%s", resp.Header.Get("Location"), page)
		}
		noCookieCleared(t, resp)
		status, body := p.call(t, "POST", "/v1/connectors/evil/authorization-uri", "", map[string]any{"redirectUri": "https://app.test/cb"})
		mustEqual(t, "API status", status, 400)
		mustEqual(t, "API code", jsonPath(body, "code"), "invalid_response")
	})

	t.Run("a huge profile keeps the session cookie under 4 KB", func(t *testing.T) {
		flow, state := startFlow(t, "big")
		resp, _ := do(t, c, "GET", p.URL+"/callback/big?code=ada&state="+state, withCookie(flow))
		mustEqual(t, "status", resp.StatusCode, 302)
		session := cookieNamed(resp, "idplug_session")
		if session == nil || len(session.Name)+len(session.Value) > 4000 {
			t.Fatalf("session cookie of %d bytes", len(session.Value))
		}
		_, body := do(t, c, "GET", p.URL+"/user", withCookie(session))
		var user map[string]any
		_ = json.Unmarshal([]byte(body), &user)
		mustEqual(t, "sub", jsonPath(user, "claims", "sub"), "ada")
		// The cookie only names the stored session, which keeps the whole profile.
		if name, _ := jsonPath(user, "claims", "name").(string); len(name) < 4000 {
			t.Fatalf("the stored session lost the long name (%d bytes)", len(name))
		}
	})

	t.Run("sign-out is a same-site POST", func(t *testing.T) {
		flow, state := startFlow(t, "demo")
		resp, _ := do(t, c, "GET", p.URL+"/callback/demo?code=ada&state="+state, withCookie(flow))
		session := withCookie(cookieNamed(resp, "idplug_session"))

		resp, page := do(t, c, "GET", p.URL+"/sign-out", session)
		mustEqual(t, "GET status", resp.StatusCode, 200)
		if len(resp.Header.Values("Set-Cookie")) > 0 || !strings.Contains(page, `<form method="post" action="/sign-out">`) {
			t.Fatalf("GET /sign-out signed out or shows no form: %v\n%s", resp.Header.Values("Set-Cookie"), page)
		}
		for name, h := range map[string]map[string]string{
			"cross-site fetch metadata": {"Sec-Fetch-Site": "cross-site"},
			"same-site other origin":    {"Sec-Fetch-Site": "same-site"},
			"foreign Origin":            {"Origin": "https://evil.test"},
		} {
			for k, v := range session {
				h[k] = v
			}
			resp, page := do(t, c, "POST", p.URL+"/sign-out", h)
			mustEqual(t, name+" status", resp.StatusCode, 403)
			if len(resp.Header.Values("Set-Cookie")) > 0 || !strings.Contains(page, "cross_origin_request") {
				t.Fatalf("%s: cookies %v, page:\n%s", name, resp.Header.Values("Set-Cookie"), page)
			}
		}
		h := map[string]string{"Sec-Fetch-Site": "same-origin"}
		for k, v := range session {
			h[k] = v
		}
		resp, _ = do(t, c, "POST", p.URL+"/sign-out", h)
		mustEqual(t, "same-origin status", resp.StatusCode, 303)
		if cleared := cookieNamed(resp, "idplug_session"); cleared == nil || cleared.MaxAge >= 0 {
			t.Fatalf("the session cookie was not cleared: %v", resp.Header.Values("Set-Cookie"))
		}
	})
}

// TestAPIMethodsAndInputBounds: a wrong method is 405 with Allow only once
// authenticated; oversized input is a 400 before any plugin call.
func TestAPIMethodsAndInputBounds(t *testing.T) {
	p := startIdplug(t, pluginFolder(t, "example"), exampleConfig)

	status, body := p.call(t, "PUT", "/v1/connectors", "", nil)
	mustEqual(t, "unauthenticated wrong method", status, 401)
	mustEqual(t, "code", jsonPath(body, "code"), "unauthorized")

	for path, allow := range map[string]string{
		"/v1/connectors":                        "GET, HEAD",
		"/v1/connectors/demo/authorization-uri": "POST",
	} {
		req, _ := http.NewRequest("DELETE", p.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+apiKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		mustEqual(t, "status of DELETE "+path, resp.StatusCode, 405)
		mustEqual(t, "Allow of "+path, resp.Header.Get("Allow"), allow)
	}
	status, _ = p.call(t, "DELETE", "/v1/nothing", apiKey, nil)
	mustEqual(t, "unknown path", status, 404)

	before := calls(t, p.URL+"/metrics", "demo", "AuthorizationURI")
	for name, req := range map[string]map[string]any{
		"oversized state":     {"redirectUri": "https://app.test/cb", "state": strings.Repeat("s", 600)},
		"state with newline":  {"redirectUri": "https://app.test/cb", "state": "a\nb"},
		"oversized redirect":  {"redirectUri": "https://app.test/cb?x=" + strings.Repeat("r", 3000)},
		"escapes that double": {"redirectUri": "https://app.test/cb?x=" + strings.Repeat(`"`, 1100)},
	} {
		status, body := p.call(t, "POST", "/v1/connectors/demo/authorization-uri", apiKey, req)
		mustEqual(t, name+" status", status, 400)
		mustEqual(t, name+" code", jsonPath(body, "code"), "invalid_request_parameters")
	}
	mustEqual(t, "plugin calls", calls(t, p.URL+"/metrics", "demo", "AuthorizationURI"), before)
	// The largest accepted state still seals.
	status, _ = p.call(t, "POST", "/v1/connectors/demo/authorization-uri", apiKey,
		map[string]any{"redirectUri": "https://app.test/cb", "state": strings.Repeat("s", 512)})
	mustEqual(t, "largest state", status, 200)
}

// TestAPIKeyBruteForce: from one address, wrong keys past the limit get 429 with
// Retry-After, even the right key meanwhile, and the metric counts them.
func TestAPIKeyBruteForce(t *testing.T) {
	p := startIdplug(t, pluginFolder(t, "example"), exampleConfig)
	for i := range 10 {
		status, _ := p.call(t, "GET", "/v1/connectors", "guess-"+strings.Repeat("x", 30)+string(rune('a'+i)), nil)
		mustEqual(t, "wrong key status", status, 401)
	}
	for _, key := range []string{"guess-11-" + strings.Repeat("y", 30), apiKey} {
		req, _ := http.NewRequest("GET", p.URL+"/v1/connectors", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		mustEqual(t, "blocked status", resp.StatusCode, 429)
		if ra := resp.Header.Get("Retry-After"); ra == "" || ra == "0" {
			t.Fatalf("Retry-After = %q", ra)
		}
		if !strings.Contains(string(body), "too_many_attempts") {
			t.Fatalf("body = %s", body)
		}
	}
	_, text := do(t, http.DefaultClient, "GET", p.URL+"/metrics", nil)
	for _, want := range []string{`idplug_api_key_failures_total{reason="invalid_key"} 10`, `idplug_api_key_failures_total{reason="rate_limited"} 2`} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestTrustedProxies: behind a reverse proxy every request comes from the
// proxy's address, so ten wrong API keys a minute from anyone would lock
// every app out. With the proxy listed, the brake counts the client that
// X-Forwarded-For names; a client cannot pick that name by sending the header
// itself, and without the list the header is ignored.
func TestTrustedProxies(t *testing.T) {
	get := func(t *testing.T, p *idplugProc, key, xff string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", p.URL+"/v1/connectors", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	wrong := "guess-" + strings.Repeat("x", 32)

	t.Run("behind a listed proxy", func(t *testing.T) {
		// The test's loopback address plays the proxy.
		p := startIdplug(t, pluginFolder(t, "example"), strings.Replace(exampleConfig, "log_format: json\n",
			"log_format: json\nhttp: {trusted_proxies: [127.0.0.1, \"::1\"]}\n", 1))
		for i := range 10 {
			// The client's own header to the left: the proxy appended the truth.
			mustEqual(t, "wrong key", get(t, p, wrong, fmt.Sprintf("198.51.100.%d, 203.0.113.5", i)), 401)
		}
		mustEqual(t, "the guesser, right key", get(t, p, apiKey, "203.0.113.5"), 429)
		mustEqual(t, "the guesser naming another client", get(t, p, apiKey, "203.0.113.6, 203.0.113.5"), 429)
		mustEqual(t, "another client behind the same proxy", get(t, p, apiKey, "203.0.113.6"), 200)
		mustEqual(t, "the proxy's own request", get(t, p, apiKey, ""), 200)
		p.waitLog(t, `"remote":"203.0.113.6:0"`)
	})
	t.Run("without the list the header is the client's word", func(t *testing.T) {
		p := startIdplug(t, pluginFolder(t, "example"), exampleConfig)
		for i := range 10 {
			mustEqual(t, "wrong key", get(t, p, wrong, fmt.Sprintf("203.0.113.%d", i)), 401)
		}
		mustEqual(t, "a fresh name in the header", get(t, p, apiKey, "203.0.113.99"), 429)
	})
}

// TestAdminListener: with admin_listen, /metrics and the detailed /readyz move
// there; the public /readyz says only whether idplug is ready, and never shows
// absolute paths either way.
func TestAdminListener(t *testing.T) {
	dir := pluginFolder(t, "example")
	// A file named like a plugin that is not one, and a link to a file outside the
	// folder: both refused, the second with a reason that names where it points.
	if err := os.WriteFile(filepath.Join(dir, "idplug-connector-broken"), []byte("#!/bin/sh\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "elsewhere"), []byte("#!/bin/sh\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "elsewhere"), filepath.Join(dir, "idplug-connector-linked")); err != nil {
		t.Fatal(err)
	}
	t.Run("without", func(t *testing.T) {
		p := startIdplug(t, dir, exampleConfig)
		_, body := do(t, http.DefaultClient, "GET", p.URL+"/readyz", nil)
		if !strings.Contains(body, "idplug-connector-linked") || strings.Contains(body, dir) || strings.Contains(body, outside) {
			t.Fatalf("public /readyz: %s", body)
		}
	})
	t.Run("with", func(t *testing.T) {
		p := startIdplug(t, dir, strings.Replace(exampleConfig, "log_format: json", "log_format: json\nadmin_listen: 127.0.0.1:0", 1))
		admin := "http://" + adminAddress(t, p)
		resp, body := do(t, http.DefaultClient, "GET", p.URL+"/readyz", nil)
		if resp.StatusCode != 200 || strings.TrimSpace(body) != `{"ready":true}` {
			t.Fatalf("public /readyz: %d %s", resp.StatusCode, body)
		}
		resp, _ = do(t, http.DefaultClient, "GET", p.URL+"/metrics", nil)
		mustEqual(t, "public /metrics", resp.StatusCode, 404)
		resp, body = do(t, http.DefaultClient, "GET", admin+"/readyz", nil)
		if resp.StatusCode != 200 || !strings.Contains(body, `"pid"`) || !strings.Contains(body, "idplug-connector-broken") {
			t.Fatalf("admin /readyz: %d %s", resp.StatusCode, body)
		}
		// The details do name the link's target: the public /readyz hides something.
		if !strings.Contains(body, outside) {
			t.Fatalf("admin /readyz has no path to hide, so the test proves nothing: %s", body)
		}
		resp, body = do(t, http.DefaultClient, "GET", admin+"/metrics", nil)
		if resp.StatusCode != 200 || !strings.Contains(body, "idplug_plugin_state") {
			t.Fatalf("admin /metrics: %d", resp.StatusCode)
		}
		resp, _ = do(t, http.DefaultClient, "GET", admin+"/v1/connectors", nil)
		mustEqual(t, "no API on the admin listener", resp.StatusCode, 404)
	})
}

// adminAddress reads the admin listener's address from the listening line.
func adminAddress(t *testing.T, p *idplugProc) string {
	t.Helper()
	for _, line := range strings.Split(p.logs.String(), "\n") {
		var entry map[string]any
		if json.Unmarshal([]byte(line), &entry) == nil && entry["@message"] == "idplug is listening" {
			if a, _ := entry["admin_address"].(string); a != "" {
				return a
			}
		}
	}
	t.Fatalf("no admin_address in the log:\n%s", p.logs)
	return ""
}

// TestHostCookiesOverHTTPS: with an https public_url, with or without a path,
// both cookies are __Host- cookies (Secure, Path=/, no Domain), and a sign-in
// completes with them: a sibling subdomain cannot plant either (a __Secure-
// cookie scoped to the path it could, with Domain=).
func TestHostCookiesOverHTTPS(t *testing.T) {
	for _, prefix := range []string{"", "/idp"} {
		t.Run("path "+prefix, func(t *testing.T) { testHostCookies(t, prefix) })
	}
}

func testHostCookies(t *testing.T, prefix string) {
	p := startIdplug(t, pluginFolder(t, "example"), strings.Replace(
		strings.Replace(browserConfig, "http://127.0.0.1:1", "https://127.0.0.1:1"+prefix, 1), "GREETING", "Hi", 1))
	base := p.URL + prefix
	c := noRedirects(nil)
	resp, _ := do(t, c, "GET", base+"/sign-in/demo", nil)
	mustEqual(t, "sign-in status", resp.StatusCode, 302)
	flow := flowCookieOf(resp)
	if flow == nil || !strings.HasPrefix(flow.Name, "__Host-") || !flow.Secure || flow.Path != "/" || flow.Domain != "" {
		t.Fatalf("flow cookie: %v", resp.Header.Values("Set-Cookie"))
	}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	mustEqual(t, "redirect_uri", loc.Query().Get("redirect_uri"), "https://127.0.0.1:1"+prefix+"/callback/demo")
	resp, _ = do(t, c, "GET", base+"/callback/demo?code=ada&state="+loc.Query().Get("state"),
		map[string]string{"Cookie": flow.Name + "=" + flow.Value})
	mustEqual(t, "callback status", resp.StatusCode, 302)
	session := cookieNamed(resp, "__Host-idplug_session")
	if session == nil || !session.Secure || session.Path != "/" || session.Domain != "" {
		t.Fatalf("session cookie: %v", resp.Header.Values("Set-Cookie"))
	}
	_, body := do(t, c, "GET", base+"/user", map[string]string{"Cookie": session.Name + "=" + session.Value})
	if !strings.Contains(body, `"sub":"ada"`) {
		t.Fatalf("/user = %s", body)
	}
	// Neither a plain cookie of the same name nor a __Secure- one (as a sibling
	// subdomain could set) is read.
	for _, name := range []string{"idplug_session", "__Secure-idplug_session"} {
		_, body = do(t, c, "GET", base+"/user", map[string]string{"Cookie": name + "=" + session.Value})
		if !strings.Contains(body, `"isAuthenticated":false`) {
			t.Fatalf("/user read the cookie %s: %s", name, body)
		}
	}
}

// With log_format json, a request's path (anyone's, no key needed) reached the
// log with its C1 controls and bidirectional overrides as they were:
// encoding/json leaves them, and a terminal showing the log (`kubectl logs`,
// `journalctl`) acts on them. They are \u escapes now, as in text lines.
func TestJSONLogLinesCarryNoTerminalControls(t *testing.T) {
	p := startIdplug(t, pluginFolder(t, "example"), exampleConfig)
	resp, err := http.Get(p.URL + "/callback/demo/%C2%9B2J%E2%80%AEevil-path")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	p.waitLog(t, "evil-path")
	if logs := p.logs.String(); strings.ContainsAny(logs, "\u009b\u202e") || !strings.Contains(logs, `\u009b2J\u202eevil-path`) {
		t.Errorf("the JSON log carries a path's controls as they are, or loses them:\n%s", logs)
	}
}

// dumpableAfterEnv, set to a command, makes the test binary run that command
// (with a configuration that does not exist) and print whether the process is
// still dumpable after it, then exit: the flag is the process's, so each
// command is tried in a process of its own.
const dumpableAfterEnv = "IDPLUG_TEST_DUMPABLE_AFTER"

func dumpableAfter(cmd string) {
	run([]string{cmd, "--config", "/nonexistent/idplug.yaml"}, io.Discard, io.Discard)
	n, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("dumpable:", n)
	os.Exit(0)
}

// Every command that reads the configuration makes itself non-dumpable before
// anything else: its memory and environment hold the session, vault and API
// keys and the store's password, which another process of the same user (a
// plugin, or anything else run as idplug's user) could otherwise read from
// /proc or by ptrace. migrate, vault, keys and map had not.
func TestConfigCommandsHideTheirProcess(t *testing.T) {
	for _, cmd := range []string{"serve", "validate", "plugins", "migrate", "vault", "keys", "map"} {
		c := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
		c.Env = append(os.Environ(), dumpableAfterEnv+"="+cmd)
		out, err := c.Output()
		if err != nil {
			t.Fatalf("%s: %v: %s", cmd, err, out)
		}
		if got := strings.TrimSpace(string(out)); got != "dumpable: 0" {
			t.Errorf("idplug %s: %s; want dumpable: 0", cmd, got)
		}
	}
}
