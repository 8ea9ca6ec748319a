package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/idplug/idplug/internal/pgtest"
)

// What a vault refresh (UpdateTokens, whose fn calls the provider) does to the
// other writes of its record, and to the store's other calls.

// rawStores opens a fresh database of each kind, twice (as two replicas
// would), without Timed, so that a test can look at the store's locks.
func rawStores(t *testing.T) map[string][2]Store {
	open := func(url string) Store {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s, err := Open(ctx, url, Options{Migrate: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	sqlite := "sqlite:" + filepath.Join(t.TempDir(), "idplug.db")
	out := map[string][2]Store{"sqlite": {open(sqlite), open(sqlite)}}
	if !testing.Short() {
		pg := pgtest.Start(t).URL
		out["postgres"] = [2]Store{open(pg), open(pg)}
	}
	return out
}

// waitQueuedOrDone returns once done has an answer (returned with true), or
// once a caller waits for a lock that an UpdateTokens holds: on SQLite, this
// process's lock of the record; on PostgreSQL, a row lock.
func waitQueuedOrDone(t *testing.T, s Store, connector, userID string, done <-chan error) (error, bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-done:
			return err, true
		default:
		}
		var queued bool
		switch s := s.(type) {
		case *sqliteStore:
			s.locks.mu.Lock()
			l := s.locks.m[recordKey(connector, userID)]
			queued = l != nil && l.refs > 1
			s.locks.mu.Unlock()
		case *postgresStore:
			var waiting int
			if err := s.pool.QueryRow(t.Context(), `SELECT COUNT(*) FROM pg_locks WHERE NOT granted`).Scan(&waiting); err != nil {
				t.Fatal(err)
			}
			queued = waiting > 0
		default:
			t.Fatalf("cannot see the locks of a %T", s)
		}
		if queued {
			return nil, false
		}
		if time.Now().After(deadline) {
			t.Fatal("the call neither returned nor waited for the record's lock")
		}
		time.Sleep(5 * time.Millisecond) // polls a condition; no timing is assumed
	}
}

// duringRefresh stores a user's record, starts a refresh of it on a, and
// while the refresh is at the provider runs call on b. The refresh stores its
// record ("refreshed") once call has returned, or waits for the refresh. It
// returns call's error and what is stored in the end.
func duringRefresh(t *testing.T, a, b Store, call func(ctx context.Context, s Store, user string) error) (callErr error, stored TokenRecord, readErr error) {
	ctx := t.Context()
	user := fmt.Sprint("user-", time.Now().UnixNano())
	if err := a.PutTokens(ctx, TokenRecord{Connector: "acme", UserID: user, KeyID: "k", Sealed: []byte("signed-in")}); err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	refreshed := make(chan error, 1)
	go func() {
		refreshed <- a.UpdateTokens(ctx, "acme", user, func(r TokenRecord) (*TokenRecord, error) {
			close(entered)
			<-release // at the provider, which rotates the refresh token
			r.Sealed = []byte("refreshed")
			return &r, nil
		})
	}()
	<-entered
	done := make(chan error, 1)
	go func() { done <- call(ctx, b, user) }()
	callErr, returned := waitQueuedOrDone(t, a, "acme", user, done)
	close(release)
	if err := <-refreshed; err != nil {
		t.Fatalf("the refresh: %v", err)
	}
	if !returned {
		callErr = <-done
	}
	stored, readErr = a.Tokens(ctx, "acme", user)
	return callErr, stored, readErr
}

// An app deletes a user's tokens (DELETE .../tokens) while a refresh of them
// is at the provider. On SQLite the delete went through at once and the
// refresh then wrote the record back: the app was told "deleted" (and revoked
// the old, already rotated, refresh token), yet the user's fresh tokens were
// in the vault again, readable through GET .../tokens. The delete now waits
// for the refresh, removes what it stored, and hands those tokens back for
// revocation.
func TestDeleteDuringRefreshStaysDeleted(t *testing.T) {
	for name, pair := range rawStores(t) {
		t.Run(name, func(t *testing.T) {
			var deleted TokenRecord
			err, stored, readErr := duringRefresh(t, pair[0], pair[1], func(ctx context.Context, s Store, user string) (err error) {
				deleted, err = s.DeleteTokens(ctx, "acme", user)
				return err
			})
			if err != nil {
				t.Fatalf("DeleteTokens: %v", err)
			}
			if !errors.Is(readErr, ErrNotFound) {
				t.Fatalf("after a delete the app was told of, the vault holds %q (%v)", stored.Sealed, readErr)
			}
			if string(deleted.Sealed) != "refreshed" {
				t.Fatalf("the delete handed back %q, not the tokens the refresh stored (they stay live at the provider)", deleted.Sealed)
			}
		})
	}
}

// A user signs in again while a refresh of their old record is at the
// provider. On SQLite the sign-in's tokens were written at once and then
// replaced by the refresh of the old grant (the last writer won, and it was
// the refresh that began first). The sign-in now waits for the refresh, and
// its tokens are what the vault keeps.
func TestSignInDuringRefreshIsKept(t *testing.T) {
	for name, pair := range rawStores(t) {
		t.Run(name, func(t *testing.T) {
			err, stored, readErr := duringRefresh(t, pair[0], pair[1], func(ctx context.Context, s Store, user string) error {
				return s.PutTokens(ctx, TokenRecord{Connector: "acme", UserID: user, KeyID: "k", Sealed: []byte("signed-in-again")})
			})
			if err != nil {
				t.Fatalf("PutTokens: %v", err)
			}
			if readErr != nil || string(stored.Sealed) != "signed-in-again" {
				t.Fatalf("after a sign-in acknowledged during a refresh of the old grant, the vault holds %q (%v)", stored.Sealed, readErr)
			}
		})
	}
}

// deadlineSpy hands the test the context each UpdateTokens gets from Timed.
type deadlineSpy struct {
	Store
	ctxs chan context.Context
}

func (s *deadlineSpy) UpdateTokens(ctx context.Context, connector, userID string, fn func(TokenRecord) (*TokenRecord, error)) error {
	s.ctxs <- ctx
	return s.Store.UpdateTokens(ctx, connector, userID, fn)
}

// Replica b's refresh waits for the record's lock, which replica a holds
// while its own refresh fails at the provider; b then refreshes with what is
// left of its deadline, and the provider's answer, a rotated refresh token,
// comes after that deadline. The write of that answer used to share the
// deadline and fail: the vault kept the refresh token the provider had just
// spent, and the user had to sign in again. The write now has a deadline of
// its own, and the rotated token is kept.
func TestRefreshAnsweredAfterTheDeadlineIsKept(t *testing.T) {
	for name, pair := range rawStores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			spy := &deadlineSpy{Store: pair[1], ctxs: make(chan context.Context, 1)}
			// The write's deadline, and the whole update's: long enough for b to
			// queue and get the record on a loaded machine before fn runs.
			b := Timed(spy, 5*time.Second, 5*time.Second, nil)
			if err := pair[0].PutTokens(ctx, TokenRecord{Connector: "acme", UserID: "slow", KeyID: "k", Sealed: []byte("rt")}); err != nil {
				t.Fatal(err)
			}
			aEntered, bQueued := make(chan struct{}), make(chan struct{})
			aDone := make(chan error, 1)
			go func() {
				aDone <- pair[0].UpdateTokens(ctx, "acme", "slow", func(TokenRecord) (*TokenRecord, error) {
					close(aEntered)
					<-bQueued
					return nil, errors.New("the provider did not answer") // nothing rotated
				})
			}()
			<-aEntered
			bDone := make(chan error, 1)
			go func() {
				bDone <- b.UpdateTokens(ctx, "acme", "slow", func(r TokenRecord) (*TokenRecord, error) {
					<-(<-spy.ctxs).Done() // the provider answers after b's deadline
					r.Sealed = []byte("rt-b")
					return &r, nil
				})
			}()
			if _, returned := waitQueuedOrDone(t, pair[0], "acme", "slow", bDone); returned {
				t.Fatal("b's refresh returned while a held the record")
			}
			close(bQueued)
			if err := <-aDone; err == nil {
				t.Fatal("a's refresh: no error")
			}
			if err := <-bDone; err != nil {
				t.Errorf("b's refresh: %v", err)
			}
			if got, err := pair[0].Tokens(ctx, "acme", "slow"); err != nil || string(got.Sealed) != "rt-b" {
				t.Fatalf("the provider rotated rt into rt-b, but the vault holds %q (%v): the only good refresh token is lost", got.Sealed, err)
			}
		})
	}
}

// With PostgreSQL a refresh holds a pooled connection (its transaction and
// row lock) for the whole call to the provider. As many refreshes at once as
// the pool has connections, at a slow provider, took every connection: every
// other store call of the replica (the session read of each page, the flow
// consumed at each sign-in) failed with store_unavailable while the database
// was up. Refreshes now leave connsKeptFromUpdates connections to the rest:
// those beyond the cap wait, without a connection, within their deadline.
func TestSlowRefreshesLeaveConnectionsToTheRest(t *testing.T) {
	pg := pgtest.Start(t)
	raw, err := Open(t.Context(), pg.URL, Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	st := Timed(raw, 5*time.Second, 30*time.Second, nil)
	defer st.Close()
	ctx := t.Context()
	n := int(raw.(*postgresStore).pool.Config().MaxConns)
	capacity := n - connsKeptFromUpdates
	for i := range n {
		if err := st.PutTokens(ctx, TokenRecord{Connector: "acme", UserID: fmt.Sprint("user-", i), KeyID: "k", Sealed: []byte("rt")}); err != nil {
			t.Fatal(err)
		}
	}
	arrived, release := make(chan struct{}, n), make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			errs <- st.UpdateTokens(ctx, "acme", fmt.Sprint("user-", i), func(r TokenRecord) (*TokenRecord, error) {
				arrived <- struct{}{}
				<-release // at a slow provider
				return &r, nil
			})
		})
	}
	for range capacity {
		<-arrived
	}
	_, sessErr := st.Session(ctx, "some-browser-session", time.Now())
	flowErr := st.ConsumeFlow(ctx, "some-flow", time.Now().Add(time.Minute))
	atProvider := len(arrived) + capacity
	close(release)
	wg.Wait()
	close(errs)
	if !errors.Is(sessErr, ErrNotFound) || flowErr != nil {
		t.Fatalf("with %d refreshes at a slow provider, the replica's other store calls: Session = %v, ConsumeFlow = %v; "+
			"want ErrNotFound and nil (the database is up)", atProvider, sessErr, flowErr)
	}
	if atProvider != capacity {
		t.Errorf("%d refreshes held connections at once; want at most %d of %d", atProvider, capacity, n)
	}
	for err := range errs {
		if err != nil {
			t.Errorf("a refresh that waited for its turn: %v", err)
		}
	}
}

// A batch of token writes on PostgreSQL locks its rows in (connector,
// user_id) order, the order rekey's FOR UPDATE and every other batch use.
// In queue order, a batch [b, a] took b and then waited for a, held by a
// transaction that then asked for b: each waited for the other, and
// PostgreSQL aborted one of them for deadlock.
func TestBatchedTokenWritesLockRowsInOrder(t *testing.T) {
	pg := pgtest.Start(t)
	raw, err := Open(t.Context(), pg.URL, Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	s := raw.(*postgresStore)
	ctx := t.Context()
	rec := func(user, sealed string) TokenRecord {
		return TokenRecord{Connector: "acme", UserID: user, KeyID: "k", Sealed: []byte(sealed)}
	}
	for _, u := range []string{"a", "b"} {
		if err := s.PutTokens(ctx, rec(u, "old")); err != nil {
			t.Fatal(err)
		}
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	lock := func(user string) error {
		var id string
		return tx.QueryRow(ctx, `SELECT user_id FROM vault_tokens WHERE connector = 'acme' AND user_id = $1 FOR UPDATE`, user).Scan(&id)
	}
	if err := lock("a"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.putTokensAtOnce(ctx, []TokenRecord{rec("b", "new"), rec("a", "new")}) }()
	if _, returned := waitQueuedOrDone(t, s, "acme", "a", done); returned {
		t.Fatal("the batch was written while a was locked")
	}
	if err := lock("b"); err != nil {
		t.Fatalf("locking b after a, while the batch waits: %v", err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the batch: %v", err)
	}
}
