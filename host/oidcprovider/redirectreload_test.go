package oidcprovider

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/idplug/idplug/host/config"
)

// The operator takes a redirect URI off a client (its domain lapsed, say) and
// reloads. A sign-in request the app started before stays pending up to
// session_ttl, and a code issued before lives a minute: neither may reach the
// URI, or its new holder, any more. The finish step had sent the code there.
func TestRemovedRedirectURIGetsNothingAfterReload(t *testing.T) {
	s := newHostileSetup(t)
	web := func(uris ...string) config.Client {
		return config.Client{ID: "web", Secret: webSecret, AuthMethod: "client_secret_basic",
			RedirectURIs: uris, PostLogoutRedirectURIs: []string{"https://app.test/bye"}}
	}
	targets := map[string]string{"acme": "acme-target"}
	s.reload(t, []config.Client{web("https://app.test/cb", "https://lapsed.test/cb")}, targets)
	pending := s.pendingRequest(t, url.Values{"redirect_uri": {"https://lapsed.test/cb"}})
	s.signIn("alice")
	code := s.codeFor(t, "web", "https://lapsed.test/cb", "openid")

	s.reload(t, []config.Client{web("https://app.test/cb")}, targets)
	rec := s.do(httptest.NewRequest(http.MethodGet, finishPath+"?id="+pending, nil))
	if loc := rec.Header().Get("Location"); strings.HasPrefix(loc, "https://lapsed.test/") {
		t.Fatalf("finishing a request made before the reload redirects to the withdrawn URI: %q", loc)
	}
	if n := len(s.browser.failures); n == 0 || !strings.Contains(s.browser.failures[n-1].Error(), "withdrawn") {
		t.Fatalf("the browser was not told why: %d %v", rec.Code, s.browser.failures)
	}
	status, e := s.tokenAnswer(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"https://lapsed.test/cb"}})
	if status != http.StatusBadRequest || e != "invalid_grant" {
		t.Fatalf("a code issued to the withdrawn URI before the reload: %d %s, want 400 invalid_grant", status, e)
	}
	// The URIs the client keeps work as before.
	s.tokens(t)
}
