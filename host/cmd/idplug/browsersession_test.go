package main

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/idplug/idplug/host/config"
)

const ssoTTLProvider = `provider:
  sso_ttl: SSO_TTL
  clients:
    - {id: app, secret: "app-secret-0123456789abcdef0123456789", redirect_uris: ["https://app.test/cb"]}
`

// The OpenID Provider's single sign-on is the browser session, so an sso_ttl
// beyond the session's default 8 hours must make the session live that long:
// it had always ended after 8 hours, whatever sso_ttl said. A reload cannot
// change a running server's session lifetime, so it refuses another one.
func TestSSOTTLBeyondEightHoursKeepsTheBrowserSignedIn(t *testing.T) {
	dir := pluginFolder(t, "example")
	cfg := exampleConfig + strings.Replace(ssoTTLProvider, "SSO_TTL", "24h", 1)
	p := startIdplug(t, dir, cfg)
	resp, _ := get(t, p.URL+"/sign-in/demo")
	flow := setCookie(t, resp, "idplug_flow")
	loc, _ := url.Parse(resp.Header.Get("Location"))
	resp, _ = get(t, p.URL+"/callback/demo?code=ada&state="+url.QueryEscape(loc.Query().Get("state")), flow)
	session := setCookie(t, resp, "idplug_session")
	if session.MaxAge != 24*3600 {
		t.Fatalf("sso_ttl: 24h, but the browser session cookie lives %ds", session.MaxAge)
	}
	// The session opens (its stored row lives as long as the cookie).
	resp, body := get(t, p.URL+"/user", session)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"isAuthenticated":true`) {
		t.Fatalf("/user: %d %s", resp.StatusCode, body)
	}

	p.rewrite(t, dir, exampleConfig+strings.Replace(ssoTTLProvider, "SSO_TTL", "48h", 1))
	status, answer := p.call(t, "POST", "/v1/admin/reload", adminKey, nil)
	mustEqual(t, "status of a reload to sso_ttl: 48h", status, 400)
	if msg, _ := jsonPath(answer, "message").(string); !strings.Contains(msg, "[provider.sso_ttl] changed: these settings need a restart") {
		t.Fatalf("message = %q", msg)
	}
	p.rewrite(t, dir, cfg)
	status, _ = p.call(t, "POST", "/v1/admin/reload", adminKey, nil)
	mustEqual(t, "status of a reload that keeps sso_ttl", status, 200)
}

func TestBrowserSessionTTL(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  *config.Config
		want time.Duration
	}{
		{"no provider", &config.Config{}, 8 * time.Hour},
		{"sso_ttl unset", &config.Config{Provider: &config.Provider{SSOTTL: config.DefaultSSOTTL}}, 8 * time.Hour},
		{"a shorter sso_ttl keeps the default", &config.Config{Provider: &config.Provider{SSOTTL: time.Hour}}, 8 * time.Hour},
		{"a longer sso_ttl", &config.Config{Provider: &config.Provider{SSOTTL: 30 * 24 * time.Hour}}, 30 * 24 * time.Hour},
	} {
		if got := browserSessionTTL(tc.cfg); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}
