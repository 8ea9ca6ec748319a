package oidcprovider

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/idplug/idplug/host/store"
	"github.com/idplug/idplug/sdk"
)

// The per-person cap bounds live grants, and docs/security.md says why the
// grants it ends are purged 10 minutes on, with their kept identity expiring
// at once: "a cap that left them to the grant's own expiry would bound live
// grants, not the store". A grant ended by revocation (or by a replayed code
// or a reused refresh token) is not counted by the cap, and its row and its
// kept identity (up to 16 KiB) had stayed until the grant's own expiry
// (refresh_token_ttl, 30 days by default): one account holder signing in,
// exchanging and revoking in a loop filled the store as before the cap. They
// go with the purge now, as the cap's do.
func TestRevokedGrantsGoWithThePurge(t *testing.T) {
	s, db, _ := writerSetup(t)
	name := strings.Repeat("Alice ", 1000) // an identity too large for its tokens
	s.browser.login = &Login{Instance: "acme", AuthTime: s.now, UserInfo: sdk.UserInfo{ID: "alice", Name: &name}}
	access, _ := s.tokens(t)
	var tok accessRecord
	if err := s.p.open(accessPurpose, access, &tok); err != nil || !tok.Identity.Stored {
		t.Fatalf("the access token: %+v, %v; want an identity kept in the store", tok.Identity, err)
	}
	r := form(http.MethodPost, "/revoke", url.Values{"token": {access}})
	r.SetBasicAuth("web", webSecret)
	if rec := s.do(r); rec.Code != http.StatusOK {
		t.Fatalf("revoke: %d %s", rec.Code, rec.Body)
	}
	// As long after as the cap's ended grants are purged.
	if _, err := s.store.Purge(t.Context(), time.Now().Add(store.EndedGrantKept+time.Minute)); err != nil {
		t.Fatal(err)
	}
	var grants, identities int
	if err := db.db.QueryRowContext(t.Context(), `SELECT count(*) FROM op_grants WHERE id = ?`, tok.Grant).Scan(&grants); err != nil {
		t.Fatal(err)
	}
	if err := db.db.QueryRowContext(t.Context(), `SELECT count(*) FROM user_sessions WHERE id = ?`, storeKey(identityKind, tok.Grant)).Scan(&identities); err != nil {
		t.Fatal(err)
	}
	if grants != 0 || identities != 0 {
		t.Fatalf("a revoked grant, purged %s on: %d grant rows and %d kept identities (of %d bytes) remain until the grant's own expiry",
			store.EndedGrantKept+time.Minute, grants, identities, len(db.row(storeKey(identityKind, tok.Grant))))
	}
}
