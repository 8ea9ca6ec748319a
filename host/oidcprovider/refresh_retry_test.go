package oidcprovider

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

// A refresh had spent its token (RotateGrant) before it read the signing key it
// signs the ID token with. On a replica whose cached keys are older than
// keyStaleMax (no token issued for five minutes), a store that failed right
// after the rotation made the answer a 503 "try again shortly": the client
// still held only the spent token, its retry was taken for a reuse, and the
// grant was revoked. The key is read before the token is spent now, as the
// identity's renewal is.
func TestRefreshRetriedAfterAKeysReadFailure(t *testing.T) {
	s := newHostileSetup(t)
	flaky := s.faulty()
	s.p.keys.st = flaky
	s.signIn("alice")
	_, refresh := s.tokens(t)

	s.now = s.now.Add(keyStaleMax + time.Minute) // a quiet replica: its cached keys are stale
	refreshOnce := func() (int, string) {
		r := form(http.MethodPost, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}})
		r.SetBasicAuth("web", webSecret)
		rec := s.do(r)
		return rec.Code, rec.Body.String()
	}
	flaky.keysAway.Store(true)
	if status, body := refreshOnce(); status != http.StatusServiceUnavailable {
		t.Fatalf("refresh with the keys unreadable: %d %s, want 503", status, body)
	}
	flaky.keysAway.Store(false)
	if status, body := refreshOnce(); status != http.StatusOK {
		t.Fatalf("the retry the 503 invited: %d %s, want new tokens", status, body)
	}
}
