package oidcprovider

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/idplug/idplug/host/config"
)

// A code exchanged once, replayed after a reload took its redirect
// URI off the client. The replay must still revoke what the first exchange
// got (RFC 6749 4.1.2), as it did before the withdrawn-URI check, and as the
// lapsed check (run after PutGrant on purpose) keeps doing.
func TestReplayAfterURIWithdrawnRevokesTheGrant(t *testing.T) {
	s := newHostileSetup(t)
	web := func(uris ...string) config.Client {
		return config.Client{ID: "web", Secret: webSecret, AuthMethod: "client_secret_basic",
			RedirectURIs: uris, PostLogoutRedirectURIs: []string{"https://app.test/bye"}}
	}
	targets := map[string]string{"acme": "acme-target"}
	s.reload(t, []config.Client{web("https://app.test/cb", "https://lapsed.test/cb")}, targets)
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
	s.reload(t, []config.Client{web("https://app.test/cb", "https://other.test/cb")}, targets)
	// Sanity: without the replay, the first exchange's grant lives on.
	status, e := s.tokenAnswer(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"https://lapsed.test/cb"}})
	if status != http.StatusBadRequest || e != "invalid_grant" {
		t.Fatalf("the replay: %d %s", status, e)
	}
	if s.refreshes(t, answer.Refresh) {
		t.Fatal("a replayed code left the first exchange's refresh token working (the withdrawn-URI check runs before PutGrant, so the replay is never detected)")
	}
}
