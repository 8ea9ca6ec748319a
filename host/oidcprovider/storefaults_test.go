package oidcprovider

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/idplug/idplug/host/store"
	"github.com/idplug/idplug/sdk"
)

// faultyStore is a store that fails calls as a database that went away for a
// moment does: the next PutSession, RenewSession or RevokeGrant once its flag
// is set, and every SigningKeys while keysAway is set.
type faultyStore struct {
	store.Store
	put, renew, revoke, keysAway atomic.Bool
}

// faulty puts a faultyStore in front of s's store, and returns it.
func (s *hostileSetup) faulty() *faultyStore {
	f := &faultyStore{Store: s.store}
	s.p.opts.Store = f
	return f
}

func away(op string) error {
	return fmt.Errorf("%w: %s: the database went away", store.ErrUnavailable, op)
}

func (f *faultyStore) PutSession(ctx context.Context, id string, data []byte, expires time.Time) error {
	if f.put.CompareAndSwap(true, false) {
		return away("put_session")
	}
	return f.Store.PutSession(ctx, id, data, expires)
}

func (f *faultyStore) RenewSession(ctx context.Context, id string, data []byte, expires time.Time) error {
	if f.renew.CompareAndSwap(true, false) {
		return away("renew_session")
	}
	return f.Store.RenewSession(ctx, id, data, expires)
}

func (f *faultyStore) RevokeGrant(ctx context.Context, id string) error {
	if f.revoke.CompareAndSwap(true, false) {
		return away("revoke_grant")
	}
	return f.Store.RevokeGrant(ctx, id)
}

func (f *faultyStore) SigningKeys(ctx context.Context) ([]store.SigningKeyRecord, error) {
	if f.keysAway.Load() {
		return nil, away("signing_keys")
	}
	return f.Store.SigningKeys(ctx)
}

// signInLarge signs the browser in as ada with 200 groups: an identity too
// large for its tokens, which its grant keeps in the store.
func (s *hostileSetup) signInLarge() {
	groups := make([]any, 200)
	for i := range groups {
		groups[i] = fmt.Sprintf("group-%04d-%s", i, strings.Repeat("g", 20))
	}
	s.browser.login = &Login{Instance: "acme", AuthTime: s.now, UserInfo: sdk.UserInfo{ID: "ada"}, Claims: map[string]any{"groups": groups}}
}
