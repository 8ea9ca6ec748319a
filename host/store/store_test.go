package store_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idplug/idplug/host/store"
	"github.com/idplug/idplug/internal/pgtest"
	"github.com/jackc/pgx/v5"
)

// backend opens a fresh store of one kind; open gives a second handle on the
// same database, as another replica would have.
type backend struct {
	name string
	open func(t *testing.T) store.Store
}

func backends(t *testing.T) []backend {
	dir := t.TempDir()
	sqliteURL := "sqlite:" + filepath.Join(dir, "idplug.db")
	var pg *pgtest.Server
	return []backend{
		{"sqlite", func(t *testing.T) store.Store { return mustOpen(t, sqliteURL) }},
		{"postgres", func(t *testing.T) store.Store {
			if pg == nil {
				pg = pgtest.Start(t)
			}
			return mustOpen(t, pg.URL)
		}},
	}
}

func mustOpen(t *testing.T, url string) store.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := store.Open(ctx, url, store.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	s = store.Timed(s, 5*time.Second, 10*time.Second, nil)
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStore(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			s := b.open(t)
			other := b.open(t)
			t.Run("consume", func(t *testing.T) { testConsume(t, s, other) })
			t.Run("sessions", func(t *testing.T) { testSessions(t, s, other) })
			t.Run("tokens", func(t *testing.T) { testTokens(t, s, other) })
			t.Run("tokens-at-once", func(t *testing.T) { testTokensAtOnce(t, s, other) })
			t.Run("update-is-exclusive", func(t *testing.T) { testUpdateExclusive(t, s, other) })
			t.Run("grant-life", func(t *testing.T) { testGrantLife(t, s, other) })
			t.Run("grant-code-twice", func(t *testing.T) { testGrantCodeTwice(t, s, other) })
			t.Run("grant-expiry", func(t *testing.T) { testGrantExpiry(t, s, other) })
			t.Run("grant-rotate-race", func(t *testing.T) { testGrantRotateRace(t, s, other) })
			t.Run("signing-keys", func(t *testing.T) { testSigningKeys(t, s, other) })
			t.Run("signing-keys-race", func(t *testing.T) { testSigningKeysRace(t, s, other) })
			t.Run("purge", func(t *testing.T) { testPurge(t, s) })
		})
	}
}

func testConsume(t *testing.T, s, other store.Store) {
	ctx := t.Context()
	exp := time.Now().Add(time.Minute)
	if err := s.ConsumeFlow(ctx, "flow-1", exp); err != nil {
		t.Fatal(err)
	}
	for _, st := range []store.Store{s, other} {
		if err := st.ConsumeFlow(ctx, "flow-1", exp); !errors.Is(err, store.ErrUsed) {
			t.Fatalf("second consume: %v, want ErrUsed", err)
		}
	}
	// Many callers on two handles at once: exactly one wins.
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			st := s
			if i%2 == 1 {
				st = other
			}
			err := st.ConsumeFlow(ctx, "flow-race", exp)
			switch {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, store.ErrUsed):
				t.Errorf("consume: %v", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d callers consumed one flow, want 1", wins.Load())
	}

	// Concurrent callers are written in batches: 40 flows, each finished
	// four times at once on two handles, still give one winner per flow.
	const flows, tries = 40, 4
	var won [flows]atomic.Int32
	for i := range flows * tries {
		wg.Go(func() {
			st := s
			if i%2 == 1 {
				st = other
			}
			err := st.ConsumeFlow(ctx, fmt.Sprint("flow-batch-", i%flows), exp)
			switch {
			case err == nil:
				won[i%flows].Add(1)
			case !errors.Is(err, store.ErrUsed):
				t.Errorf("consume: %v", err)
			}
		})
	}
	wg.Wait()
	for i := range won {
		if n := won[i].Load(); n != 1 {
			t.Errorf("flow-batch-%d was consumed %d times, want 1", i, n)
		}
	}
}

func testSessions(t *testing.T, s, other store.Store) {
	ctx := t.Context()
	now := time.Now()
	if err := s.PutSession(ctx, "sess-1", []byte(`{"a":1}`), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, err := other.Session(ctx, "sess-1", now)
	if err != nil || string(got) != `{"a":1}` {
		t.Fatalf("Session = %q, %v", got, err)
	}
	if _, err := s.Session(ctx, "sess-1", now.Add(2*time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired session: %v, want ErrNotFound", err)
	}
	if err := other.RevokeSession(ctx, "sess-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Session(ctx, "sess-1", now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoked session: %v, want ErrNotFound", err)
	}
	if err := s.RevokeSession(ctx, "nobody"); err != nil {
		t.Fatalf("revoking an unknown session: %v", err)
	}
	if _, err := s.Session(ctx, "nobody", now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown session: %v", err)
	}
}

// testTokensAtOnce writes many vault records at once, so that writes are
// batched: each of 24 users written four times on two handles ends with one
// of its own four records, whole, and none is lost or mixed with another's.
func testTokensAtOnce(t *testing.T, s, other store.Store) {
	ctx := t.Context()
	const users, writes = 24, 4
	var wg sync.WaitGroup
	for i := range users * writes {
		wg.Go(func() {
			st := s
			if i%2 == 1 {
				st = other
			}
			u := fmt.Sprint("batch-u", i%users)
			rec := store.TokenRecord{Connector: "batch", UserID: u, KeyID: "k1", Sealed: []byte(fmt.Sprint(u, "#", i/users))}
			if err := st.PutTokens(ctx, rec); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for u := range users {
		user := fmt.Sprint("batch-u", u)
		got, err := s.Tokens(ctx, "batch", user)
		if err != nil {
			t.Fatalf("%s: %v", user, err)
		}
		if before, _, ok := strings.Cut(string(got.Sealed), "#"); !ok || before != user {
			t.Fatalf("%s holds %q, a record of another user", user, got.Sealed)
		}
	}
}

func testTokens(t *testing.T, s, other store.Store) {
	ctx := t.Context()
	exp := time.UnixMilli(time.Now().Add(time.Hour).UnixMilli())
	rec := store.TokenRecord{Connector: "acme", UserID: "u1", KeyID: "k1", Sealed: []byte{0, 1, 2, 255}, ExpiresAt: exp}
	if err := s.PutTokens(ctx, rec); err != nil {
		t.Fatal(err)
	}
	got, err := other.Tokens(ctx, "acme", "u1")
	if err != nil {
		t.Fatal(err)
	}
	if got.KeyID != "k1" || !bytes.Equal(got.Sealed, rec.Sealed) || !got.ExpiresAt.Equal(exp) || got.RefreshFailed {
		t.Fatalf("Tokens = %+v", got)
	}
	rec.Sealed, rec.RefreshFailed = []byte("second"), true
	if err := other.PutTokens(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Tokens(ctx, "acme", "u1"); string(got.Sealed) != "second" || !got.RefreshFailed {
		t.Fatalf("after replace: %+v", got)
	}
	if _, err := s.Tokens(ctx, "acme", "u2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing record: %v", err)
	}
	// EachTokens sees every record and replaces what fn returns.
	if err := s.PutTokens(ctx, store.TokenRecord{Connector: "acme", UserID: "u2", KeyID: "k1", Sealed: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	n, err := s.EachTokens(ctx, func(r store.TokenRecord) (*store.TokenRecord, error) {
		r.KeyID = "k2"
		return &r, nil
	})
	if err != nil || n != 2 {
		t.Fatalf("EachTokens = %d, %v", n, err)
	}
	if got, _ := other.Tokens(ctx, "acme", "u2"); got.KeyID != "k2" {
		t.Fatalf("after EachTokens: %+v", got)
	}
	del, err := other.DeleteTokens(ctx, "acme", "u2")
	if err != nil || string(del.Sealed) != "x" {
		t.Fatalf("DeleteTokens = %+v, %v", del, err)
	}
	if _, err := s.DeleteTokens(ctx, "acme", "u2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	// An error from fn comes back as it is, and the record is still saved.
	mine := errors.New("provider said no")
	err = s.UpdateTokens(ctx, "acme", "u1", func(r store.TokenRecord) (*store.TokenRecord, error) {
		r.RefreshFailed = false
		r.Sealed = []byte("third")
		return &r, mine
	})
	if err != mine {
		t.Fatalf("UpdateTokens = %v, want fn's error", err)
	}
	if got, _ := other.Tokens(ctx, "acme", "u1"); string(got.Sealed) != "third" {
		t.Fatalf("after UpdateTokens: %+v", got)
	}
	if err := s.UpdateTokens(ctx, "acme", "none", func(store.TokenRecord) (*store.TokenRecord, error) {
		t.Error("fn called for a missing record")
		return nil, nil
	}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UpdateTokens on a missing record: %v", err)
	}
}

// testUpdateExclusive runs UpdateTokens on one record from many goroutines on
// two handles: none overlaps, and each sees the previous one's write.
func testUpdateExclusive(t *testing.T, s, other store.Store) {
	ctx := t.Context()
	if err := s.PutTokens(ctx, store.TokenRecord{Connector: "acme", UserID: "ex", KeyID: "k", Sealed: []byte("0")}); err != nil {
		t.Fatal(err)
	}
	var inside, overlaps atomic.Int32
	var wg sync.WaitGroup
	const callers = 16
	for i := range callers {
		wg.Go(func() {
			st := s
			if i%2 == 1 {
				st = other
			}
			err := st.UpdateTokens(ctx, "acme", "ex", func(r store.TokenRecord) (*store.TokenRecord, error) {
				if inside.Add(1) > 1 {
					overlaps.Add(1)
				}
				defer inside.Add(-1)
				var n int
				fmt.Sscan(string(r.Sealed), &n)
				r.Sealed = fmt.Appendf(nil, "%d", n+1)
				return &r, nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got, _ := s.Tokens(ctx, "acme", "ex")
	if overlaps.Load() != 0 || string(got.Sealed) != fmt.Sprint(callers) {
		t.Fatalf("overlaps=%d counter=%s, want 0 and %d", overlaps.Load(), got.Sealed, callers)
	}
}

func testPurge(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := time.Now()
	if err := s.ConsumeFlow(ctx, "old-flow", now.Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSession(ctx, "old-sess", []byte("x"), now.Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.ConsumeFlow(ctx, "live-flow", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	n, err := s.Purge(ctx, now)
	if err != nil || n < 2 {
		t.Fatalf("Purge = %d, %v", n, err)
	}
	if err := s.ConsumeFlow(ctx, "live-flow", now.Add(time.Hour)); !errors.Is(err, store.ErrUsed) {
		t.Fatalf("a live consumed flow was purged: %v", err)
	}
}

func TestSQLiteFileIsPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := mustOpen(t, "sqlite:"+path)
	if err := s.ConsumeFlow(t.Context(), "x", time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal"} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %#o, want 0600", filepath.Base(p), st.Mode().Perm())
		}
	}
	// A file others can read is refused by name.
	other := filepath.Join(t.TempDir(), "open.db")
	if err := os.WriteFile(other, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := store.Open(t.Context(), "sqlite:"+other, store.Options{Migrate: true})
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("readable by other users")) {
		t.Fatalf("Open of a 0644 file: %v", err)
	}
}

func TestSchemaMustBeMigrated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fresh.db")
	_, err := store.Open(t.Context(), "sqlite:"+path, store.Options{})
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("idplug migrate")) {
		t.Fatalf("Open without Migrate of a fresh database: %v", err)
	}
	mustOpen(t, "sqlite:"+path)
	s, err := store.Open(t.Context(), "sqlite:"+path, store.Options{})
	if err != nil {
		t.Fatalf("Open without Migrate after migrating: %v", err)
	}
	s.Close()
}

func TestOpenRefusesUnknownURL(t *testing.T) {
	_, err := store.Open(t.Context(), "mysql://root:hunter2@db/x", store.Options{})
	if err == nil || bytes.Contains([]byte(err.Error()), []byte("hunter2")) {
		t.Fatalf("Open(mysql) = %v; want an error without the password", err)
	}
}

// testGrantLife follows one grant: recorded, read, rotated, an old refresh
// token coming back, revoked.
func testGrantLife(t *testing.T, s, other store.Store) {
	ctx := t.Context()
	now := time.Now()
	if err := s.PutGrant(ctx, "grant-1", "client-a", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	client, gen, err := other.Grant(ctx, "grant-1", now)
	if err != nil || client != "client-a" || gen != 0 {
		t.Fatalf("Grant = %q, %d, %v; want client-a, 0", client, gen, err)
	}
	if err := other.RotateGrant(ctx, "grant-1", 0, now.Add(2*time.Hour)); err != nil {
		t.Fatalf("RotateGrant 0 -> 1: %v", err)
	}
	// The rotation moved the generation and the expiry.
	client, gen, err = s.Grant(ctx, "grant-1", now.Add(90*time.Minute))
	if err != nil || client != "client-a" || gen != 1 {
		t.Fatalf("after the rotation: Grant = %q, %d, %v; want client-a, 1", client, gen, err)
	}
	// The refresh token of generation 0 comes back, on either replica, and
	// one of a generation never issued: ErrUsed, and the grant stays live
	// for the caller to revoke.
	for _, tc := range []struct {
		st   store.Store
		from int64
	}{{s, 0}, {other, 0}, {s, 7}} {
		if err := tc.st.RotateGrant(ctx, "grant-1", tc.from, now.Add(3*time.Hour)); !errors.Is(err, store.ErrUsed) {
			t.Fatalf("RotateGrant from generation %d of a grant at 1: %v, want ErrUsed", tc.from, err)
		}
	}
	if _, gen, err := other.Grant(ctx, "grant-1", now); err != nil || gen != 1 {
		t.Fatalf("after a refused rotation: Grant = %d, %v; want generation 1, live", gen, err)
	}
	if err := other.RevokeGrant(ctx, "grant-1"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Grant(ctx, "grant-1", now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoked grant: %v, want ErrNotFound", err)
	}
	// A revoked grant is gone, whatever the generation: not ErrUsed.
	for _, from := range []int64{1, 0} {
		if err := s.RotateGrant(ctx, "grant-1", from, now.Add(time.Hour)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("RotateGrant from %d of a revoked grant: %v, want ErrNotFound", from, err)
		}
	}
	if _, _, err := s.Grant(ctx, "grant-1", now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a revoked grant came back after a rotation: %v", err)
	}
	for _, id := range []string{"grant-1", "nobody"} {
		if err := s.RevokeGrant(ctx, id); err != nil {
			t.Fatalf("revoking %s again or unknown: %v", id, err)
		}
	}
	if _, _, err := s.Grant(ctx, "nobody", now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown grant: %v", err)
	}
	if err := s.RotateGrant(ctx, "nobody", 0, now.Add(time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("rotating an unknown grant: %v, want ErrNotFound", err)
	}
}

// testGrantCodeTwice exchanges one authorization code twice, in turn and at
// once: one grant, the first one.
func testGrantCodeTwice(t *testing.T, s, other store.Store) {
	ctx := t.Context()
	now := time.Now()
	if err := s.PutGrant(ctx, "grant-code", "client-a", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, st := range []store.Store{s, other} {
		if err := st.PutGrant(ctx, "grant-code", "client-b", now.Add(2*time.Hour)); !errors.Is(err, store.ErrUsed) {
			t.Fatalf("second PutGrant: %v, want ErrUsed", err)
		}
	}
	if client, gen, err := other.Grant(ctx, "grant-code", now.Add(90*time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the second PutGrant changed the grant: %q, %d, %v", client, gen, err)
	}
	if client, gen, err := other.Grant(ctx, "grant-code", now); err != nil || client != "client-a" || gen != 0 {
		t.Fatalf("Grant = %q, %d, %v; want the first one's client-a, 0", client, gen, err)
	}
	// A revoked grant's id stays used.
	if err := s.RevokeGrant(ctx, "grant-code"); err != nil {
		t.Fatal(err)
	}
	if err := other.PutGrant(ctx, "grant-code", "client-a", now.Add(time.Hour)); !errors.Is(err, store.ErrUsed) {
		t.Fatalf("PutGrant of a revoked grant's id: %v, want ErrUsed", err)
	}
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			st := s
			if i%2 == 1 {
				st = other
			}
			err := st.PutGrant(ctx, "grant-code-race", fmt.Sprint("client-", i), now.Add(time.Hour))
			switch {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, store.ErrUsed):
				t.Errorf("PutGrant: %v", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d callers recorded one grant, want 1", wins.Load())
	}
}

func testGrantExpiry(t *testing.T, s, other store.Store) {
	ctx := t.Context()
	now := time.Now()
	if err := s.PutGrant(ctx, "grant-live", "client-a", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := other.Grant(ctx, "grant-live", now); err != nil {
		t.Fatal(err)
	}
	if _, _, err := other.Grant(ctx, "grant-live", now.Add(2*time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Grant after its expiry: %v, want ErrNotFound", err)
	}
	// A grant that expired already: not found, and a rotation does not bring
	// it back.
	if err := s.PutGrant(ctx, "grant-old", "client-a", now.Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := other.Grant(ctx, "grant-old", now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired grant: %v, want ErrNotFound", err)
	}
	if err := other.RotateGrant(ctx, "grant-old", 0, now.Add(time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("RotateGrant of an expired grant: %v, want ErrNotFound", err)
	}
	if _, _, err := s.Grant(ctx, "grant-old", now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an expired grant came back after a rotation: %v", err)
	}
	// Until purged, its id is still taken.
	if err := s.PutGrant(ctx, "grant-old", "client-a", now.Add(time.Hour)); !errors.Is(err, store.ErrUsed) {
		t.Fatalf("PutGrant of an expired, unpurged grant: %v, want ErrUsed", err)
	}
	n, err := other.Purge(ctx, time.Now())
	if err != nil || n < 1 {
		t.Fatalf("Purge = %d, %v", n, err)
	}
	// Purged: the row is gone, so the id can be recorded afresh.
	if err := s.PutGrant(ctx, "grant-old", "client-b", now.Add(time.Hour)); err != nil {
		t.Fatalf("PutGrant of a purged grant's id: %v, want it recorded afresh", err)
	}
	if client, gen, err := s.Grant(ctx, "grant-old", now); err != nil || client != "client-b" || gen != 0 {
		t.Fatalf("Grant = %q, %d, %v; want client-b, 0", client, gen, err)
	}
	if _, _, err := s.Grant(ctx, "grant-live", now); err != nil {
		t.Fatalf("a live grant was purged: %v", err)
	}
}

// testGrantRotateRace spends one refresh token many times at once on two
// handles: exactly one rotation wins, every other caller learns the token was
// used.
func testGrantRotateRace(t *testing.T, s, other store.Store) {
	ctx := t.Context()
	now := time.Now()
	if err := s.PutGrant(ctx, "grant-race", "client-a", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			st := s
			if i%2 == 1 {
				st = other
			}
			err := st.RotateGrant(ctx, "grant-race", 0, now.Add(2*time.Hour))
			switch {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, store.ErrUsed):
				t.Errorf("RotateGrant: %v, want nil or ErrUsed", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d callers rotated generation 0, want 1", wins.Load())
	}
	if _, gen, err := other.Grant(ctx, "grant-race", now); err != nil || gen != 1 {
		t.Fatalf("Grant = %d, %v; want generation 1", gen, err)
	}
}

// signingKey is a key record with times kept to the millisecond, as the store
// keeps them.
func signingKey(id, state string, created time.Time) store.SigningKeyRecord {
	return store.SigningKeyRecord{
		ID: id, Algorithm: "ES256", State: state,
		Sealed:    []byte("sealed\x00" + id),
		Public:    []byte(`{"kty":"EC","crv":"P-256","kid":"` + id + `"}`),
		CreatedAt: time.UnixMilli(created.UnixMilli()),
	}
}

func retired(k store.SigningKeyRecord, until time.Time) store.SigningKeyRecord {
	k.State, k.RetireAt = store.KeyRetired, time.UnixMilli(until.UnixMilli())
	return k
}

// sameSigningKeys says how got differs from want, every field compared.
func sameSigningKeys(got, want []store.SigningKeyRecord) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d keys %v, want %d %v", len(got), keyIDs(got), len(want), keyIDs(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.ID != w.ID || g.Algorithm != w.Algorithm || g.State != w.State || !bytes.Equal(g.Sealed, w.Sealed) ||
			!bytes.Equal(g.Public, w.Public) || !g.CreatedAt.Equal(w.CreatedAt) || !g.RetireAt.Equal(w.RetireAt) {
			return fmt.Errorf("key %d is %+v, want %+v", i, g, w)
		}
	}
	return nil
}

func keyIDs(keys []store.SigningKeyRecord) []string {
	var ids []string
	for _, k := range keys {
		ids = append(ids, k.ID+"/"+k.State)
	}
	return ids
}

func testSigningKeys(t *testing.T, s, other store.Store) {
	ctx := t.Context()
	base := time.Now()
	check := func(st store.Store, want []store.SigningKeyRecord) {
		t.Helper()
		got, err := st.SigningKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := sameSigningKeys(got, want); err != nil {
			t.Fatal(err)
		}
	}
	check(s, nil)
	k1 := signingKey("k1", store.KeyActive, base)
	k2 := signingKey("k2", store.KeyNext, base.Add(time.Second))
	// Written newest first: read back oldest first.
	if err := s.ReplaceSigningKeys(ctx, nil, []store.SigningKeyRecord{k2, k1}); err != nil {
		t.Fatal(err)
	}
	check(other, []store.SigningKeyRecord{k1, k2})
	first, err := other.SigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// A rotation, from what other read.
	k3 := signingKey("k3", store.KeyNext, base.Add(2*time.Second))
	k2a := k2
	k2a.State = store.KeyActive
	rotated := []store.SigningKeyRecord{retired(k1, base.Add(time.Hour)), k2a, k3}
	if err := other.ReplaceSigningKeys(ctx, first, rotated); err != nil {
		t.Fatal(err)
	}
	check(s, rotated)

	// A replica that read before the rotation, or expects anything else than
	// what is stored, changes nothing.
	k1active := rotated[0]
	k1active.State, k1active.RetireAt = store.KeyActive, time.Time{}
	for name, stale := range map[string][]store.SigningKeyRecord{
		"the set before the rotation": first,
		"no keys":                     nil,
		"a key missing":               rotated[:2],
		"a key more":                  append(slices.Clone(rotated), signingKey("k0", store.KeyNext, base)),
		"a key in another state":      {k1active, rotated[1], rotated[2]},
		"a key twice":                 {rotated[0], rotated[1], rotated[1]},
	} {
		for _, st := range []store.Store{s, other} {
			err := st.ReplaceSigningKeys(ctx, stale, []store.SigningKeyRecord{signingKey("k9", store.KeyActive, base)})
			if !errors.Is(err, store.ErrUsed) {
				t.Fatalf("expecting %s: %v, want ErrUsed", name, err)
			}
		}
	}
	check(other, rotated)
	// The order of expect does not matter.
	reversed := slices.Clone(rotated)
	slices.Reverse(reversed)
	if err := s.ReplaceSigningKeys(ctx, reversed, rotated); err != nil {
		t.Fatalf("expecting the stored set in another order: %v", err)
	}

	// A set that breaks the rules is refused, not as a database failure, and
	// writes nothing.
	noSealed := signingKey("k5", store.KeyNext, base)
	noSealed.Sealed = nil
	nextWithRetire := signingKey("k5", store.KeyNext, base)
	nextWithRetire.RetireAt = base
	for name, bad := range map[string][]store.SigningKeyRecord{
		"two keys with one ID":   {rotated[0], rotated[1], signingKey("k2", store.KeyNext, base)},
		"an unknown state":       {signingKey("k5", "spare", base)},
		"no ID":                  {signingKey("", store.KeyNext, base)},
		"no sealed key":          {noSealed},
		"retired without a date": {signingKey("k5", store.KeyRetired, base)},
		"next with a RetireAt":   {nextWithRetire},
	} {
		err := s.ReplaceSigningKeys(ctx, rotated, bad)
		if err == nil || errors.Is(err, store.ErrUsed) || errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("writing %s: %v, want an error of its own", name, err)
		}
	}
	check(s, rotated)

	// Purge drops a retired key whose RetireAt passed, and only that one.
	k4 := signingKey("k4", store.KeyNext, base.Add(3*time.Second))
	k3a := k3
	k3a.State = store.KeyActive
	purgeable := []store.SigningKeyRecord{retired(k1, base.Add(-time.Second)), retired(k2, base.Add(time.Hour)), k3a, k4}
	if err := s.ReplaceSigningKeys(ctx, rotated, purgeable); err != nil {
		t.Fatal(err)
	}
	n, err := other.Purge(ctx, time.Now())
	if err != nil || n < 1 {
		t.Fatalf("Purge = %d, %v", n, err)
	}
	check(s, purgeable[1:])
	// A replacer that read before the purge finds the set changed.
	if err := other.ReplaceSigningKeys(ctx, purgeable, purgeable[1:]); !errors.Is(err, store.ErrUsed) {
		t.Fatalf("expecting the keys before the purge: %v, want ErrUsed", err)
	}
}

// testSigningKeysRace rotates the keys from the same set on 8 replacers on two
// handles: exactly one rotation is written, whole.
func testSigningKeysRace(t *testing.T, s, other store.Store) {
	ctx := t.Context()
	base := time.Now()
	cur, err := s.SigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cur) == 0 {
		k := signingKey("race-first", store.KeyActive, base)
		if err := s.ReplaceSigningKeys(ctx, nil, []store.SigningKeyRecord{k}); err != nil {
			t.Fatal(err)
		}
		cur = []store.SigningKeyRecord{k}
	}
	rotation := func(i int) []store.SigningKeyRecord {
		var next []store.SigningKeyRecord
		for _, k := range cur {
			switch k.State {
			case store.KeyNext:
				k.State = store.KeyActive
			case store.KeyActive:
				k = retired(k, base.Add(time.Hour))
			}
			next = append(next, k)
		}
		return append(next, signingKey(fmt.Sprint("race-", i), store.KeyNext, base.Add(time.Minute)))
	}
	var wins atomic.Int32
	winner := -1
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			st := s
			if i%2 == 1 {
				st = other
			}
			err := st.ReplaceSigningKeys(ctx, cur, rotation(i))
			switch {
			case err == nil:
				wins.Add(1)
				mu.Lock()
				winner = i
				mu.Unlock()
			case !errors.Is(err, store.ErrUsed):
				t.Errorf("ReplaceSigningKeys: %v, want nil or ErrUsed", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d replacers rotated the keys, want 1", wins.Load())
	}
	for _, st := range []store.Store{s, other} {
		got, err := st.SigningKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := sameSigningKeys(got, rotation(winner)); err != nil {
			t.Fatalf("after the race, won by race-%d: %v", winner, err)
		}
	}
}

// TestMigrationFromFirstSchema opens a database an idplug of schema 1 wrote:
// refused until migrated, then migrated to the current schema with its rows
// kept.
func TestMigrationFromFirstSchema(t *testing.T) {
	if v := store.SchemaVersion(); v != 3 {
		t.Fatalf("SchemaVersion() = %d, want 3", v)
	}
	future := time.Now().Add(time.Hour).UnixMilli()
	for _, tc := range []struct {
		name string
		// setup writes a schema-1 database with one session, as an idplug
		// of that schema left it; it returns the store URL and a way to read
		// a number from the database directly.
		setup func(t *testing.T, schema string) (url string, query func(q string) (int, error))
	}{
		{"sqlite", func(t *testing.T, schema string) (string, func(string) (int, error)) {
			path := filepath.Join(t.TempDir(), "old.db")
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			db, err := sql.Open("sqlite", "file:"+path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			for _, q := range []string{
				`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`,
				schema,
				`INSERT INTO schema_migrations (version, name, applied_at) VALUES (1, '0001_init.sql', 1)`,
				fmt.Sprintf(`INSERT INTO user_sessions (id, data, expires_at) VALUES ('old-session', x'6f6c64', %d)`, future),
			} {
				if _, err := db.ExecContext(t.Context(), q); err != nil {
					t.Fatal(err)
				}
			}
			return "sqlite:" + path, func(q string) (n int, err error) {
				err = db.QueryRowContext(t.Context(), q).Scan(&n)
				return n, err
			}
		}},
		{"postgres", func(t *testing.T, schema string) (string, func(string) (int, error)) {
			pg := pgtest.Start(t)
			conn, err := pgx.Connect(t.Context(), pg.URL)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { conn.Close(context.Background()) })
			for _, q := range []string{
				`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`,
				schema,
				`INSERT INTO schema_migrations (version, name, applied_at) VALUES (1, '0001_init.sql', 1)`,
				fmt.Sprintf(`INSERT INTO user_sessions (id, data, expires_at) VALUES ('old-session', 'old', %d)`, future),
			} {
				if _, err := conn.Exec(t.Context(), q); err != nil {
					t.Fatal(err)
				}
			}
			return pg.URL, func(q string) (n int, err error) {
				err = conn.QueryRow(t.Context(), q).Scan(&n)
				return n, err
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			schema, err := os.ReadFile(filepath.Join("migrations", tc.name, "0001_init.sql"))
			if err != nil {
				t.Fatal(err)
			}
			url, query := tc.setup(t, string(schema))
			if _, err := store.Open(ctx, url, store.Options{}); err == nil ||
				!strings.Contains(err.Error(), "version 1") || !strings.Contains(err.Error(), "idplug migrate") {
				t.Fatalf("Open without Migrate of a schema-1 database: %v, want it refused", err)
			}
			raw, err := store.Open(ctx, url, store.Options{Migrate: true})
			if err != nil {
				t.Fatalf("Open with Migrate of a schema-1 database: %v", err)
			}
			s := store.Timed(raw, 5*time.Second, 10*time.Second, nil)
			if data, err := s.Session(ctx, "old-session", time.Now()); err != nil || string(data) != "old" {
				t.Fatalf("a session from before the migration: %q, %v", data, err)
			}
			if err := s.PutGrant(ctx, "migrated", "client-a", time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			k := signingKey("k1", store.KeyActive, time.Now())
			if err := s.ReplaceSigningKeys(ctx, nil, []store.SigningKeyRecord{k}); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			for q, want := range map[string]int{
				`SELECT COUNT(*) FROM schema_migrations`:     3,
				`SELECT MAX(version) FROM schema_migrations`: store.SchemaVersion(),
			} {
				if n, err := query(q); err != nil || n != want {
					t.Fatalf("%s = %d, %v; want %d", q, n, err, want)
				}
			}
			// Reopened without Migrate: the schema is the binary's; and with
			// Migrate: nothing is left to apply.
			if again, err := store.Open(ctx, url, store.Options{}); err != nil {
				t.Fatalf("Open without Migrate after migrating: %v", err)
			} else {
				again.Close()
			}
			again, err := store.Open(ctx, url, store.Options{Migrate: true})
			if err != nil {
				t.Fatalf("Open with Migrate after migrating: %v", err)
			}
			defer again.Close()
			if n, err := query(`SELECT COUNT(*) FROM schema_migrations`); err != nil || n != 3 {
				t.Fatalf("schema_migrations has %d rows after a second migration, %v; want 3", n, err)
			}
			if tc.name == "sqlite" {
				// Every flow the old binary consumed is on disk: the first run
				// after the upgrade starts as after a graceful stop.
				if n, err := query(`SELECT clean FROM process_runs WHERE id = 1`); err != nil || n != 1 {
					t.Fatalf("process_runs.clean = %d, %v; want 1 after the upgrade", n, err)
				}
			}
			if client, _, err := again.Grant(ctx, "migrated", time.Now()); err != nil || client != "client-a" {
				t.Fatalf("Grant after reopening = %q, %v", client, err)
			}
			got, err := again.SigningKeys(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := sameSigningKeys(got, []store.SigningKeyRecord{k}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// providerCalls are the OpenID Provider's calls on a store holding the grant
// "g" at generation 0 and the keys `keys`; each must fail when the database
// does.
func providerCalls(s store.Store, keys []store.SigningKeyRecord) map[string]func(context.Context) error {
	later := time.Now().Add(time.Hour)
	return map[string]func(context.Context) error{
		"PutGrant":    func(ctx context.Context) error { return s.PutGrant(ctx, "g-new", "client-a", later) },
		"RotateGrant": func(ctx context.Context) error { return s.RotateGrant(ctx, "g", 0, later) },
		"RevokeGrant": func(ctx context.Context) error { return s.RevokeGrant(ctx, "g") },
		"Grant": func(ctx context.Context) error {
			_, _, err := s.Grant(ctx, "g", time.Now())
			return err
		},
		"SigningKeys": func(ctx context.Context) error {
			_, err := s.SigningKeys(ctx)
			return err
		},
		"ReplaceSigningKeys": func(ctx context.Context) error {
			return s.ReplaceSigningKeys(ctx, keys, []store.SigningKeyRecord{signingKey("k2", store.KeyActive, time.Now())})
		},
	}
}

// seedProvider writes the grant and keys providerCalls expects.
func seedProvider(t *testing.T, s store.Store) []store.SigningKeyRecord {
	t.Helper()
	keys := []store.SigningKeyRecord{signingKey("k1", store.KeyActive, time.Now())}
	if err := s.PutGrant(t.Context(), "g", "client-a", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.ReplaceSigningKeys(t.Context(), nil, keys); err != nil {
		t.Fatal(err)
	}
	return keys
}

// checkProviderUnchanged checks that calls that failed wrote nothing: the
// grant "g" is live at generation 0 and the keys are still keys.
func checkProviderUnchanged(t *testing.T, s store.Store, keys []store.SigningKeyRecord) {
	t.Helper()
	if _, gen, err := s.Grant(t.Context(), "g", time.Now()); err != nil || gen != 0 {
		t.Fatalf("after the failed calls: Grant = %d, %v; want generation 0, live", gen, err)
	}
	got, err := s.SigningKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := sameSigningKeys(got, keys); err != nil {
		t.Fatalf("after the failed calls: %v", err)
	}
}

// The OpenID Provider's calls on a database that fails: ErrUnavailable from
// Timed, never a success and never ErrUsed or ErrNotFound, which the provider
// would act on.
func TestProviderCallsFailClosed(t *testing.T) {
	// SQLite, held by another process, then closed.
	t.Run("sqlite", func(t *testing.T) {
		ctx := t.Context()
		path := filepath.Join(t.TempDir(), "down.db")
		raw, err := store.Open(ctx, "sqlite:"+path, store.Options{Migrate: true, ConnectTimeout: 300 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		const bound = 2 * time.Second
		s := store.Timed(raw, bound, bound, nil)
		keys := seedProvider(t, s)

		lockDB, err := sql.Open("sqlite", "file:"+path)
		if err != nil {
			t.Fatal(err)
		}
		defer lockDB.Close()
		lock, err := lockDB.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := lock.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
			t.Fatal(err)
		}
		calls := providerCalls(s, keys)
		for _, name := range []string{"PutGrant", "RotateGrant", "RevokeGrant", "ReplaceSigningKeys"} {
			start := time.Now()
			if err := calls[name](ctx); !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("%s with the file locked by another writer: %v, want ErrUnavailable", name, err)
			}
			if took := time.Since(start); took > bound+3*time.Second {
				t.Errorf("%s took %s, bound %s", name, took, bound)
			}
		}
		if _, err := lock.ExecContext(ctx, `ROLLBACK`); err != nil {
			t.Fatal(err)
		}
		lock.Close()
		checkProviderUnchanged(t, s, keys)

		raw.Close()
		for name, call := range calls {
			if err := call(ctx); !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("%s on a closed store: %v, want ErrUnavailable", name, err)
			}
		}
	})

	// PostgreSQL killed while every call waits inside it.
	t.Run("postgres", func(t *testing.T) {
		pg := pgtest.Start(t)
		ctx := t.Context()
		raw, err := store.Open(ctx, pg.URL, store.Options{Migrate: true, ConnectTimeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		// Far longer than the test waits: an answer must come from the kill,
		// not from the deadline.
		const bound = 60 * time.Second
		s := store.Timed(raw, bound, bound, nil)
		defer s.Close()
		keys := seedProvider(t, s)

		// Another session holds both tables, so that every call waits on a lock
		// inside the server.
		conn, err := pgx.Connect(ctx, pg.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, `LOCK TABLE op_grants, op_signing_keys IN ACCESS EXCLUSIVE MODE`); err != nil {
			t.Fatal(err)
		}
		calls := providerCalls(s, keys)
		type result struct {
			name string
			err  error
			at   time.Time
		}
		results := make(chan result, len(calls))
		for name, call := range calls {
			go func() {
				err := call(ctx)
				results <- result{name, err, time.Now()}
			}()
		}
		for waiting := 0; waiting < len(calls); {
			select {
			case r := <-results:
				t.Fatalf("%s answered while its table was locked: %v", r.name, r.err)
			case <-time.After(20 * time.Millisecond):
			}
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM pg_locks WHERE NOT granted`).Scan(&waiting); err != nil {
				t.Fatal(err)
			}
		}
		pg.Kill()
		killed := time.Now()
		for range calls {
			r := <-results
			if !errors.Is(r.err, store.ErrUnavailable) {
				t.Errorf("%s when the database was killed mid-call: %v, want ErrUnavailable", r.name, r.err)
			}
			if took := r.at.Sub(killed); took > 10*time.Second {
				t.Errorf("%s answered %s after the kill", r.name, took)
			}
		}
		// While it is down.
		for name, call := range calls {
			if err := call(ctx); !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("%s with the database down: %v, want ErrUnavailable", name, err)
			}
		}
		pg.Restart()
		deadline := time.Now().Add(30 * time.Second)
		for {
			_, err := s.SigningKeys(ctx)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the store did not come back after the database restarted: %v", err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		checkProviderUnchanged(t, s, keys)
	})
}
