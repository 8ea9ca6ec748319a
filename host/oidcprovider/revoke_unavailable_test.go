package oidcprovider

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/idplug/idplug/host/store"
)

// revokeDown is a store whose next RevokeGrant fails.
type revokeDown struct {
	store.Store
	fail atomic.Bool
}

func (f *revokeDown) RevokeGrant(ctx context.Context, id string) error {
	if f.fail.CompareAndSwap(true, false) {
		return fmt.Errorf("%w: revoke_grant: the database went away", store.ErrUnavailable)
	}
	return f.Store.RevokeGrant(ctx, id)
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
	flaky := &revokeDown{Store: s.store}
	s.p.opts.Store = flaky
	s.signIn("alice")
	_, refresh := s.tokens(t)
	flaky.fail.Store(true)
	r := form(http.MethodPost, "/revoke", url.Values{"token": {refresh}})
	r.SetBasicAuth("web", webSecret)
	rec := s.do(r)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("a revocation the store could not record: %d, Retry-After %q, %s; want 503 with Retry-After (RFC 7009 2.2.1)",
			rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
}
