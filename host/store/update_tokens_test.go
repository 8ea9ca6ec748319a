package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
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

// A batch of token writes on PostgreSQL answers errRowLocked for a record
// whose row another transaction holds, and writes the others at once. It
// waited for the row, and all its records with it (see
// TestSignInsDoNotWaitForAnotherUsersRefresh); and, locking in queue order, a
// batch [b, a] took b and waited for a, held by a transaction that then asked
// for b: each waited for the other, and PostgreSQL aborted one for deadlock.
func TestTokenBatchLeavesLockedRowsToTheirCallers(t *testing.T) {
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
	// Rolled back at the latest when the test ends, which frees a batch
	// that waits for its lock.
	defer func() { _ = tx.Rollback(context.Background()) }()
	lock := func(user string) error {
		var id string
		return tx.QueryRow(ctx, `SELECT user_id FROM vault_tokens WHERE connector = 'acme' AND user_id = $1 FOR UPDATE`, user).Scan(&id)
	}
	if err := lock("a"); err != nil {
		t.Fatal(err)
	}
	var results []error
	done := make(chan error, 1)
	go func() {
		var err error
		results, err = s.putTokens(ctx, []TokenRecord{rec("b", "new"), rec("a", "new"), rec("c", "new")})
		done <- err
	}()
	err, returned := waitQueuedOrDone(t, s, "acme", "a", done)
	if !returned {
		t.Fatal("the batch waited for a's row, which another transaction holds")
	}
	if err != nil {
		t.Fatalf("the batch: %v", err)
	}
	want := []error{nil, errRowLocked, nil}
	if !slices.Equal(results, want) {
		t.Fatalf("results %v, want %v", results, want)
	}
	if err := lock("b"); err != nil {
		t.Fatalf("locking b after a, once the batch is written: %v", err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	for user, want := range map[string]string{"a": "old", "b": "new", "c": "new"} {
		if got, err := s.Tokens(ctx, "acme", user); err != nil || string(got.Sealed) != want {
			t.Fatalf("%s: %q (%v), want %q", user, got.Sealed, err, want)
		}
	}
}

// A refresh holds its record's row on PostgreSQL for the whole call to the
// provider, and a sign-in of that user, on any replica, waits for it. That
// sign-in used to wait inside the replica's token batch: batched with other
// users' sign-ins, the statement waited for the row until store.timeout and
// every one of them failed with store_unavailable; written alone, it held up
// every token write queued behind it. It now leaves the batch and waits alone.
func TestSignInsDoNotWaitForAnotherUsersRefresh(t *testing.T) {
	pg := pgtest.Start(t)
	open := func() *postgresStore {
		// The timeout bounds the waits the test ends itself: a generous one.
		raw, err := Open(t.Context(), pg.URL, Options{Migrate: true, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { raw.Close() })
		return raw.(*postgresStore)
	}
	refresher, signIns := open(), open() // two replicas
	ctx := t.Context()
	rec := func(user, sealed string) TokenRecord {
		return TokenRecord{Connector: "acme", UserID: user, KeyID: "k", Sealed: []byte(sealed)}
	}
	// refresh starts a refresh of user that stays at the provider, holding
	// the row, until the returned func is called (at the latest when the test
	// ends).
	refresh := func(t *testing.T, user string) (end func()) {
		if err := refresher.PutTokens(ctx, rec(user, "old")); err != nil {
			t.Fatal(err)
		}
		entered, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
		go func() {
			done <- refresher.UpdateTokens(ctx, "acme", user, func(r TokenRecord) (*TokenRecord, error) {
				close(entered)
				<-release
				r.Sealed = []byte("refreshed")
				return &r, nil
			})
		}()
		<-entered
		end = sync.OnceFunc(func() {
			close(release)
			if err := <-done; err != nil {
				t.Errorf("the refresh of %s: %v", user, err)
			}
		})
		t.Cleanup(end)
		return end
	}
	put := func(user string) chan error {
		out := make(chan error, 1)
		go func() { out <- signIns.PutTokens(ctx, rec(user, "signed-in")) }()
		return out
	}
	stored := func(t *testing.T, user, want string) {
		t.Helper()
		if got, err := signIns.Tokens(ctx, "acme", user); err != nil || string(got.Sealed) != want {
			t.Fatalf("%s: %q (%v), want %q", user, got.Sealed, err, want)
		}
	}

	t.Run("in one batch", func(t *testing.T) {
		endRefresh := refresh(t, "a1")
		// A transaction holds the table against writes (SHARE lets the
		// refresh keep its row): d1's sign-in waits, and a1's and b1's queue
		// behind it, to be written in one batch.
		tx, err := signIns.pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = tx.Rollback(context.Background()) }()
		if _, err := tx.Exec(ctx, `LOCK TABLE vault_tokens IN SHARE MODE`); err != nil {
			t.Fatal(err)
		}
		putD := put("d1")
		if err, returned := waitQueuedOrDone(t, signIns, "acme", "d1", putD); returned {
			t.Fatalf("d1's sign-in returned (%v) while the table was held", err)
		}
		putA, putB := put("a1"), put("b1")
		waitQueued(t, signIns.tokens, 2)
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if err := <-putD; err != nil {
			t.Fatalf("d1's sign-in: %v", err)
		}
		if err := <-putB; err != nil {
			t.Fatalf("b1's sign-in, batched with a1's during a1's refresh: %v", err)
		}
		if err, returned := waitQueuedOrDone(t, signIns, "acme", "a1", putA); returned {
			t.Fatalf("a1's sign-in returned (%v) while a1's refresh held the row", err)
		}
		endRefresh()
		if err := <-putA; err != nil {
			t.Fatalf("a1's sign-in, after the refresh: %v", err)
		}
		stored(t, "a1", "signed-in")
		stored(t, "b1", "signed-in")
	})

	t.Run("behind it", func(t *testing.T) {
		endRefresh := refresh(t, "a2")
		putA := put("a2") // written alone, at once: it waits for the row
		if err, returned := waitQueuedOrDone(t, signIns, "acme", "a2", putA); returned {
			t.Fatalf("a2's sign-in returned (%v) while a2's refresh held the row", err)
		}
		if err := <-put("b2"); err != nil {
			t.Fatalf("b2's sign-in: %v", err)
		}
		select {
		case err := <-putA:
			t.Fatalf("b2's sign-in was written only once a2's had returned (%v): it waited for a2's refresh", err)
		default:
		}
		endRefresh()
		if err := <-putA; err != nil {
			t.Fatalf("a2's sign-in, after the refresh: %v", err)
		}
		stored(t, "a2", "signed-in")
		stored(t, "b2", "signed-in")
	})
}

// slowTokenWrites makes the store's token writes wait for the test, as a slow
// disk or a busy write slot would: each write hands the test a channel, to be
// closed when the write may go on. A write that goes on after its deadline
// fails, as it would have in the database. Writes still held when the test
// ends fail.
func slowTokenWrites(t *testing.T, s *sqliteStore) <-chan chan struct{} {
	writes, ended := make(chan chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(ended) })
	s.tokens = newBatcher(func(ctx context.Context, recs []TokenRecord) ([]error, error) {
		proceed := make(chan struct{})
		select {
		case writes <- proceed:
		case <-ended:
			return nil, errors.New("the test has ended")
		}
		select {
		case <-proceed:
		case <-ended:
			return nil, errors.New("the test has ended")
		}
		if deadline, ok := ctx.Deadline(); ok && !time.Now().Before(deadline) {
			return nil, context.DeadlineExceeded
		}
		return s.putTokens(ctx, recs)
	})
	return writes
}

// Once the provider has answered a refresh, UpdateTokens writes its record
// (a refresh token the provider has just rotated, the old one spent) under a
// deadline of its own. On SQLite that write joins the token batch, whose
// write had the earliest deadline of its callers: batched with another user's
// sign-in with less time left, a slow write failed at the sign-in's deadline,
// and the vault kept the spent token. A batch now has its latest caller's
// deadline.
func TestRotatedTokensOutlastABatchMatesDeadline(t *testing.T) {
	raw, err := Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "idplug.db"), Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	s := raw.(*sqliteStore)
	ctx := t.Context()
	rec := func(user, sealed string) TokenRecord {
		return TokenRecord{Connector: "acme", UserID: user, KeyID: "k", Sealed: []byte(sealed)}
	}
	for _, u := range []string{"a", "b", "c"} {
		if err := s.PutTokens(ctx, rec(u, "old")); err != nil {
			t.Fatal(err)
		}
	}
	writes := slowTokenWrites(t, s)
	// c's sign-in writes, and is held: what comes next queues.
	putC := make(chan error, 1)
	go func() { putC <- s.PutTokens(ctx, rec("c", "signed-in")) }()
	writeC := <-writes
	// a's refresh: the provider rotated the refresh token. Its write may take
	// a minute (Timed's timeout, in idplug).
	refreshed := make(chan error, 1)
	go func() {
		refreshed <- s.UpdateTokens(withWriteTimeout(ctx, time.Minute), "acme", "a", func(r TokenRecord) (*TokenRecord, error) {
			r.Sealed = []byte("rotated")
			return &r, nil
		})
	}()
	waitQueued(t, s.tokens, 1)
	// b's sign-in has a second left. (Were it to pass before the write takes
	// b, a would be written alone, and the test prove nothing.)
	bctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	putB := make(chan error, 1)
	go func() { putB <- s.PutTokens(bctx, rec("b", "signed-in")) }()
	waitQueued(t, s.tokens, 2)
	close(writeC)
	if err := <-putC; err != nil {
		t.Fatalf("c's sign-in: %v", err)
	}
	writeAB := <-writes
	// The write of a and b goes on once b's deadline has passed: b has its
	// answer, and a's record is written.
	if err := <-putB; !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("b's sign-in, whose write outlasted its deadline: %v, want context.DeadlineExceeded", err)
	}
	close(writeAB)
	if err := <-refreshed; err != nil {
		t.Errorf("the refresh: %v", err)
	}
	if got, err := s.Tokens(ctx, "acme", "a"); err != nil || string(got.Sealed) != "rotated" {
		t.Fatalf("the provider rotated a's refresh token, but the vault holds %q (%v): the only good refresh token is lost", got.Sealed, err)
	}
}
