package oidcprovider

import (
	"net/http"
	"net/url"
	"testing"
)

// A thief refreshes first with a stolen refresh token; the app's own
// refresh with the same token is then a reuse, and RotateGrant says so. The
// revocation had been a second, separate write: when it failed the reuse was
// forgotten (the answer a 503 "try again shortly", as if nothing happened),
// and the thief's rotated token kept refreshing. RotateGrant now revokes on
// a generation mismatch, in the write that finds it.
func TestReuseIsRevokedByTheWriteThatFindsIt(t *testing.T) {
	s := newHostileSetup(t)
	flaky := s.faulty()
	s.signIn("alice")
	_, stolen := s.tokens(t)

	thiefs, ok := s.refreshed(t, stolen) // the thief rotates first
	if !ok {
		t.Fatal("the thief's refresh failed")
	}
	flaky.revoke.Store(true)
	r := form(http.MethodPost, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {stolen}})
	r.SetBasicAuth("web", webSecret)
	rec := s.do(r) // the app's own refresh: a reuse, caught
	if rec.Code == http.StatusOK {
		t.Fatalf("the reused token refreshed: %s", rec.Body)
	}
	if s.refreshes(t, thiefs) {
		t.Fatalf("after a reuse answered %d, the thief's rotated refresh token still refreshes", rec.Code)
	}
}

// A revocation the store cannot record had been answered 500
// {"error":"server_error"}, with no description and no Retry-After, where the
// token endpoint answers the same failure 503; it is 503 with Retry-After now.
// RFC 7009 2.2.1 names 503 for this: the client must then assume the token
// still exists and retry. An app signing a person out that sees a bare 500
// drops its tokens and moves on, and the grant stays live for whoever copied
// them.
func TestRevocationWithTheStoreAwayIs503(t *testing.T) {
	s := newHostileSetup(t)
	flaky := s.faulty()
	s.signIn("alice")
	_, refresh := s.tokens(t)
	flaky.revoke.Store(true)
	r := form(http.MethodPost, "/revoke", url.Values{"token": {refresh}})
	r.SetBasicAuth("web", webSecret)
	rec := s.do(r)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("a revocation the store could not record: %d, Retry-After %q, %s; want 503 with Retry-After (RFC 7009 2.2.1)",
			rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
}
