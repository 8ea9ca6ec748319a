package oidcprovider

import (
	"encoding/json"
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
	s, withdraw := withLapsedURI(t)
	pending := s.pendingRequest(t, url.Values{"redirect_uri": {"https://lapsed.test/cb"}})
	s.signIn("alice")
	code := s.codeFor(t, "web", "https://lapsed.test/cb", "openid")

	withdraw()
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

// withLapsedURI is a setup whose client web has a second redirect URI,
// https://lapsed.test/cb, that withdraw takes off it by a reload.
func withLapsedURI(t *testing.T) (s *hostileSetup, withdraw func()) {
	t.Helper()
	s = newHostileSetup(t)
	web := func(uris ...string) config.Client {
		return config.Client{ID: "web", Secret: webSecret, AuthMethod: "client_secret_basic",
			RedirectURIs: uris, PostLogoutRedirectURIs: []string{"https://app.test/bye"}}
	}
	targets := map[string]string{"acme": "acme-target"}
	s.reload(t, []config.Client{web("https://app.test/cb", "https://lapsed.test/cb")}, targets)
	return s, func() { s.reload(t, []config.Client{web("https://app.test/cb")}, targets) }
}

// A code exchanged once, replayed after a reload took its redirect
// URI off the client. The replay must still revoke what the first exchange
// got (RFC 6749 4.1.2), as it did before the withdrawn-URI check, and as the
// lapsed check (run after PutGrant on purpose) keeps doing.
func TestReplayAfterURIWithdrawnRevokesTheGrant(t *testing.T) {
	s, withdraw := withLapsedURI(t)
	s.signIn("alice")
	code := s.codeFor(t, "web", "https://lapsed.test/cb", "openid offline_access")
	r := form(http.MethodPost, "/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"https://lapsed.test/cb"}})
	r.SetBasicAuth("web", webSecret)
	rec := s.do(r)
	var answer struct {
		Refresh string `json:"refresh_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil || answer.Refresh == "" {
		t.Fatalf("first exchange: %d %s", rec.Code, rec.Body)
	}
	withdraw()
	status, e := s.tokenAnswer(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"https://lapsed.test/cb"}})
	if status != http.StatusBadRequest || e != "invalid_grant" {
		t.Fatalf("the replay: %d %s", status, e)
	}
	if s.refreshes(t, answer.Refresh) {
		t.Fatal("a replayed code left the first exchange's refresh token working")
	}
}

// A code requested while a client was confidential, without PKCE, and
// exchanged after a reload made the client public: the exchange had needed
// neither a secret nor a verifier, so whoever intercepted the code in its
// minute got the tokens. Refused.
func TestCodeOfAClientMadePublicNeedsItsChallenge(t *testing.T) {
	s := newHostileSetup(t)
	s.signIn("alice")
	code := s.codeFor(t, "web", "https://app.test/cb", "openid")
	s.reload(t, []config.Client{{ID: "web", Public: true, AuthMethod: "none", RedirectURIs: []string{"https://app.test/cb"}}},
		map[string]string{"acme": "acme-target"})
	rec := s.do(form(http.MethodPost, "/oauth/token", url.Values{"grant_type": {"authorization_code"}, "client_id": {"web"},
		"code": {code}, "redirect_uri": {"https://app.test/cb"}}))
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "invalid_grant") {
		t.Fatalf("a code without PKCE exchanged by a client made public: %d %s, want 400 invalid_grant", rec.Code, rec.Body)
	}
}
