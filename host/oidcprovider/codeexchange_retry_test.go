package oidcprovider

import (
	"net/http"
	"net/url"
	"testing"
)

// A code exchange whose large identity could not be written (PutSession)
// answers 503 "try again shortly": nothing was spent, and the client's retry
// gets the tokens. The grant had been taken first, so the retry was treated
// as a replayed code, which revoked the grant: the person had to sign in
// again. What may fail now comes before the grant is taken, and the identity
// written again replaces the first try's.
func TestCodeExchangeRetriedAfterAStoreFailure(t *testing.T) {
	s := newHostileSetup(t)
	flaky := s.faulty()
	s.signInLarge()
	code := s.code(t, "openid offline_access")

	exchange := func() (int, string) {
		r := form(http.MethodPost, "/oauth/token", url.Values{"grant_type": {"authorization_code"},
			"code": {code}, "redirect_uri": {"https://app.test/cb"}})
		r.SetBasicAuth("web", webSecret)
		rec := s.do(r)
		return rec.Code, rec.Body.String()
	}
	flaky.put.Store(true)
	if status, body := exchange(); status != http.StatusServiceUnavailable {
		t.Fatalf("exchange with the store away: %d %s, want 503", status, body)
	}
	if status, body := exchange(); status != http.StatusOK {
		t.Fatalf("the retry the 503 invited: %d %s, want the tokens", status, body)
	}
}
