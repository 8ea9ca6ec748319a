package store_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/idplug/idplug/host/store"
	"github.com/idplug/idplug/internal/pgtest"
	"github.com/jackc/pgx/v5"
)

// providerCalls are the OpenID Provider's calls on a store holding the grant
// "g" at generation 0 and the keys `keys`; each must fail when the database
// does.
func providerCalls(s store.Store, keys []store.SigningKeyRecord) map[string]func(context.Context) error {
	later := time.Now().Add(time.Hour)
	return map[string]func(context.Context) error{
		"PutGrant": func(ctx context.Context) error {
			_, err := s.PutGrant(ctx, "g-new", "client-a", "sub-a", later)
			return err
		},
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
	if _, err := s.PutGrant(t.Context(), "g", "client-a", "sub-a", time.Now().Add(time.Hour)); err != nil {
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
		raw, err := store.Open(ctx, "sqlite:"+path, store.Options{Migrate: true, Timeout: 300 * time.Millisecond})
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
		// Far longer than the test waits: an answer must come from the kill,
		// not from the deadline.
		const bound = 60 * time.Second
		raw, err := store.Open(ctx, pg.URL, store.Options{Migrate: true, Timeout: bound, ConnectTimeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
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
