package store_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idplug/idplug/host/store"
	"github.com/idplug/idplug/internal/pgtest"
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
			t.Run("each-tokens-in-batches", func(t *testing.T) { testEachTokensInBatches(t, s, other) })
			t.Run("grant-life", func(t *testing.T) { testGrantLife(t, s, other) })
			t.Run("grant-code-twice", func(t *testing.T) { testGrantCodeTwice(t, s, other) })
			t.Run("grant-expiry", func(t *testing.T) { testGrantExpiry(t, s, other) })
			t.Run("grant-rotate-race", func(t *testing.T) { testGrantRotateRace(t, s, other) })
			t.Run("grants-per-subject", func(t *testing.T) { testGrantsPerSubject(t, s, other) })
			t.Run("signing-keys", func(t *testing.T) { testSigningKeys(t, s, other) })
			t.Run("signing-keys-race", func(t *testing.T) { testSigningKeysRace(t, s, other) })
			t.Run("connectors", func(t *testing.T) { testConnectors(t, s, other) })
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
	// Put again (a retried write): it replaces the live one.
	if err := other.PutSession(ctx, "sess-1", []byte(`{"a":1.5}`), now.Add(time.Hour)); err != nil {
		t.Fatalf("putting a live session again: %v", err)
	}
	if got, err := s.Session(ctx, "sess-1", now); err != nil || string(got) != `{"a":1.5}` {
		t.Fatalf("a session put again: %q, %v", got, err)
	}
	// Renewed, by another handle: new data, and a life past the old one's end.
	if err := other.RenewSession(ctx, "sess-1", []byte(`{"a":2}`), now.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Session(ctx, "sess-1", now.Add(2*time.Hour)); err != nil || string(got) != `{"a":2}` {
		t.Fatalf("renewed session two hours on: %q, %v", got, err)
	}
	if err := s.RenewSession(ctx, "nobody", []byte(`{}`), now.Add(time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("renewing an unknown session: %v, want ErrNotFound", err)
	}
	if err := other.RevokeSession(ctx, "sess-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Session(ctx, "sess-1", now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoked session: %v, want ErrNotFound", err)
	}
	if err := s.RenewSession(ctx, "sess-1", []byte(`{"a":3}`), now.Add(time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("renewing a revoked session: %v, want ErrNotFound", err)
	}
	// Put again once revoked: it stays revoked.
	if err := other.PutSession(ctx, "sess-1", []byte(`{"a":4}`), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Session(ctx, "sess-1", now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a revoked session put again: %v, want ErrNotFound", err)
	}
	// A revoked row goes with the next purge, not at its own expiry: put
	// again after it, the id is a new session.
	if _, err := other.Purge(ctx, time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := other.PutSession(ctx, "sess-1", []byte(`{"a":5}`), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Session(ctx, "sess-1", now); err != nil || string(got) != `{"a":5}` {
		t.Fatalf("a revoked session purged and put again: %q, %v; want it new", got, err)
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
// testEachTokensInBatches: EachTokens visits every record once across its
// batches, and each batch is a transaction of its own: an error in the third
// leaves the first two replaced (a rekey is run again to finish), and the
// store was never held for the whole vault.
func testEachTokensInBatches(t *testing.T, s, other store.Store) {
	ctx := t.Context()
	for i := range 2*store.EachTokensBatch + 50 {
		if err := s.PutTokens(ctx, store.TokenRecord{Connector: "batched", UserID: fmt.Sprintf("u%04d", i), KeyID: "k1", Sealed: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]int{}
	n, err := other.EachTokens(ctx, func(r store.TokenRecord) (*store.TokenRecord, error) {
		seen[r.Connector+"/"+r.UserID]++
		if r.Connector != "batched" {
			return nil, nil
		}
		r.KeyID = "k2"
		return &r, nil
	})
	if err != nil || n != 2*store.EachTokensBatch+50 {
		t.Fatalf("EachTokens = %d, %v; want %d replaced", n, err, 2*store.EachTokensBatch+50)
	}
	for id, times := range seen {
		if times != 1 {
			t.Errorf("%s visited %d times", id, times)
		}
	}
	visits := 0
	failed := errors.New("the third batch fails")
	n, err = s.EachTokens(ctx, func(r store.TokenRecord) (*store.TokenRecord, error) {
		if visits++; visits > 2*store.EachTokensBatch {
			return nil, failed
		}
		r.KeyID = "k3"
		return &r, nil
	})
	if !errors.Is(err, failed) || n != 2*store.EachTokensBatch {
		t.Fatalf("EachTokens failing in its third batch = %d, %v; want the first two batches replaced", n, err)
	}
	keys := map[string]int{}
	_, _ = other.EachTokens(ctx, func(r store.TokenRecord) (*store.TokenRecord, error) {
		keys[r.KeyID]++
		return nil, nil
	})
	if keys["k3"] != 2*store.EachTokensBatch {
		t.Errorf("records by key after the failed pass: %v; want %d under k3, the rest as they were", keys, 2*store.EachTokensBatch)
	}
}

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

// What SQLite frees is zeroed where it lay: a vault record deleted (or
// replaced by a refresh) had stayed in the free space of its page, readable
// under its key after the key was rotated away and the vault rekeyed. And a
// rebuild, which needs the file alone, refuses while another process has it.
func TestSQLiteLeavesNothingFreedInItsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := mustOpen(t, "sqlite:"+path)
	ctx := t.Context()
	marker := func(i int) []byte { return []byte(fmt.Sprintf("sealed-record-%03d-%s", i, strings.Repeat("m", 200))) }
	for i := range 40 {
		if err := s.PutTokens(ctx, store.TokenRecord{Connector: "acme", UserID: fmt.Sprintf("u%03d", i), KeyID: "k1", Sealed: marker(i)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 40; i += 2 {
		if _, err := s.DeleteTokens(ctx, "acme", fmt.Sprintf("u%03d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.(store.Checkpointer).Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		if kept := bytes.Contains(file, marker(i)); kept != (i%2 == 1) {
			t.Errorf("record %d: in the file %v, want %v", i, kept, i%2 == 1)
		}
	}
	// Rebuilt alone; refused beside a process that holds the file (idplug
	// serve); failed, saying so, while another reader keeps the log's old
	// pages (a backup, a sqlite3 shell): it had said all was clean.
	reader, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	tx, err := reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var count int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM vault_tokens`).Scan(&count); err != nil {
		t.Fatal(err)
	}
	if err := s.(store.Rebuilder).Rebuild(ctx); err == nil || !strings.Contains(err.Error(), "was using the write-ahead log") {
		t.Errorf("Rebuild beside a reader: %v, want it refused", err)
	}
	_ = tx.Rollback()
	if err := s.(store.Rebuilder).Rebuild(ctx); err != nil {
		t.Fatalf("Rebuild alone: %v", err)
	}
	serve, err := store.Open(ctx, "sqlite:"+path, store.Options{Migrate: true, OneProcess: true})
	if err != nil {
		t.Fatal(err)
	}
	defer serve.Close()
	if err := s.(store.Rebuilder).Rebuild(ctx); !errors.Is(err, store.ErrInUse) {
		t.Fatalf("Rebuild beside a process holding the file: %v, want ErrInUse", err)
	}
}

// The driver and SQLite read "file:" + path as a URI: a '#' or '?' in the
// configured path ended it, and a '%' was decoded, so SQLite opened another
// file than the one created 0600 and checked. The vault, the sessions and the
// provider's keys went to that file, created under the umask (0644), and
// after a '?' or '#' the pragmas (WAL, busy_timeout) were lost too; the file
// the operator configured, backs up and chmods stayed empty.
func TestSQLitePathWithURICharacters(t *testing.T) {
	root := t.TempDir() // no URI characters in the folder
	for i, name := range []string{"idplug#1.db", "idplug%41.db", "idplug?.db", "idplug?_pragma=journal_mode(DELETE).db"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(root, fmt.Sprint(i))
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, name)
			s := mustOpen(t, "sqlite:"+path)
			if err := s.PutSession(t.Context(), "row", []byte("sealed session"), time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			// The pragmas after the path apply: the file is in WAL mode.
			if _, err := os.Stat(path + "-wal"); err != nil {
				t.Errorf("no write-ahead log beside the file: %v", err)
			}
			s.Close()
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			var others []string
			for _, e := range entries {
				if e.Name() != name && e.Name() != name+"-wal" && e.Name() != name+"-shm" {
					others = append(others, e.Name())
				}
			}
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(others) > 0 || st.Size() == 0 {
				t.Fatalf("the configured file has %d bytes; the database went to %v", st.Size(), others)
			}
		})
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

func TestRedactHidesEveryPassword(t *testing.T) {
	for url, want := range map[string]string{
		"postgres://idplug:hunter2hunter2@db/idplug":                                "postgres://idplug:xxxxx@db/idplug",
		"postgres://idplug:hunter2@hunter2@db/idplug?sslmode=require":               "postgres://idplug:xxxxx@db/idplug?sslmode=require",
		"postgres://idplug:hun/ter?2hunter2@db/idplug":                              "postgres://idplug:xxxxx@db/idplug",
		"postgres://db/idplug?user=idplug&password=hunter2hunter2&sslmode=x":        "postgres://db/idplug?user=idplug&password=xxxxx&sslmode=x",
		"postgresql://db/idplug?sslpassword=hunter2hunter2&PASSWORD=hunter2hunter2": "postgresql://db/idplug?sslpassword=xxxxx&PASSWORD=xxxxx",
		"postgres://idplug@db/idplug":                                               "postgres://idplug@db/idplug",
		"postgres://db/idplug?pass%77ord=hunter2hunter2& %73slpassword =hunter2":    "postgres://db/idplug?pass%77ord=xxxxx& %73slpassword =xxxxx",
		"sqlite:/data/idplug.db":                                                    "sqlite:/data/idplug.db",
	} {
		if got := store.Redact(url); got != want {
			t.Errorf("Redact(%q) = %q, want %q", url, got, want)
		}
	}

	// What a refused URL's error says, through pgx's own parsing: it reaches the
	// log and the terminal.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, url := range []string{
		"postgres://db/idplug?password=hunter2hunter2&sslmode=bogus",
		"postgres://idplug:hunter2hunter2@db/idplug?sslmode=bogus",
		// pgx ends the user information at the first "@", and dialed the
		// rest of the password as the host: refused before pgx sees it.
		"postgres://idplug:hunter2@hunter2@db/idplug?connect_timeout=x",
		"postgres://idplug:hunter2@hunter2@127.0.0.1:1/idplug",
		// pgx reads query keys percent-decoded: this is its password.
		"postgres://db/idplug?pass%77ord=hunter2hunter2&sslmode=bogus",
	} {
		st, err := store.Open(ctx, url, store.Options{})
		if err == nil {
			st.Close()
			t.Fatalf("%s opened", store.Redact(url))
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("the error shows the password: %v", err)
		}
		// And says what is wrong.
		if !strings.Contains(err.Error(), "sslmode is invalid") && !strings.Contains(err.Error(), `has an "@" in its user or password: write it as %40`) {
			t.Errorf("the error does not say what is wrong: %v", err)
		}
	}
}

// Check tells idplug validate what idplug serve would refuse about a store,
// without connecting or creating anything.
func TestCheckSaysWhatOpenWouldRefuse(t *testing.T) {
	dir := t.TempDir()
	// A database others may read, which Open refuses: a check that opens
	// nothing still stats it.
	shared := filepath.Join(t.TempDir(), "shared.db")
	if err := os.WriteFile(shared, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(shared, 0o644); err != nil {
		t.Fatal(err)
	}
	for url, want := range map[string]string{
		"sqlite:" + shared:                                      shared + " is open to other users (mode 0644): chmod 600 it",
		"sqlite:" + dir + "/missing/idplug.db":                  "the folder of " + dir + "/missing/idplug.db does not exist: make it, idplug's alone (install -d -m 700 " + dir + "/missing)",
		"sqlite:" + dir:                                         "is not a regular file",
		"postgres://idplug:hunter2hunter2@db/x?sslmode=bad":     "the URL postgres://idplug:xxxxx@db/x?sslmode=bad cannot be parsed: failed to configure TLS (sslmode is invalid)",
		"postgres://idplug:S3cret@Pa55word@db/x":                `has an "@" in its user or password`,
		"postgres://idplug:pa?ss@Pa55word@db/x":                 `has an "@" in its user or password`,
		"postgres://db?options=a@b&sslmode=verify-full":         "",
		"sqlite:" + dir + "/idplug.db":                          "",
		"postgres://idplug:hunter2hunter2@db/x?sslmode=require": "",
		"postgres://idplug:hunter2hunter2@db/x":                 "names no sslmode, and db is another machine",
	} {
		err := store.Check(url)
		switch {
		case want == "" && err != nil:
			t.Errorf("Check(%s) = %v", store.Redact(url), err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("Check(%s) = %v, want %q", store.Redact(url), err, want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("Check created %d files", len(entries))
	}
}
