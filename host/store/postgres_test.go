package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/idplug/idplug/host/store"
	"github.com/idplug/idplug/internal/pgtest"
	"github.com/jackc/pgx/v5"
)

// Replicas starting together against a fresh database: every one opens, and
// each migration is applied once.
func TestPostgresMigrationsDoNotRace(t *testing.T) {
	pg := pgtest.Start(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			s, err := store.Open(t.Context(), pg.URL, store.Options{Migrate: true})
			if err != nil {
				t.Error(err)
				return
			}
			s.Close()
		})
	}
	wg.Wait()
	conn, err := pgx.Connect(t.Context(), pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n, v int
	if err := conn.QueryRow(t.Context(), `SELECT COUNT(*), MAX(version) FROM schema_migrations`).Scan(&n, &v); err != nil {
		t.Fatal(err)
	}
	if n != v || v != store.SchemaVersion() {
		t.Fatalf("schema_migrations has %d rows up to version %d, want %d", n, v, store.SchemaVersion())
	}
}

// The database killed: calls fail with ErrUnavailable within the deadline,
// never succeed unchecked, and work again once it is back.
func TestPostgresDownFailsClosedAndRecovers(t *testing.T) {
	pg := pgtest.Start(t)
	ctx := t.Context()
	const bound = 2 * time.Second
	raw, err := store.Open(ctx, pg.URL, store.Options{Migrate: true, Timeout: bound, ConnectTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s := store.Timed(raw, bound, bound, nil)
	defer s.Close()
	if err := s.ConsumeFlow(ctx, "before", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	pg.Kill()
	for _, id := range []string{"during-1", "during-2"} {
		start := time.Now()
		err := s.ConsumeFlow(ctx, id, time.Now().Add(time.Hour))
		if !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("consume with the database down: %v, want ErrUnavailable", err)
		}
		// Generous: the bound plus scheduling on a busy machine.
		if took := time.Since(start); took > bound+3*time.Second {
			t.Fatalf("consume with the database down took %s, bound %s", took, bound)
		}
	}
	pg.Restart()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := s.ConsumeFlow(ctx, "after", time.Now().Add(time.Hour))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the store did not come back after the database restarted: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := s.ConsumeFlow(ctx, "before", time.Now().Add(time.Hour)); !errors.Is(err, store.ErrUsed) {
		t.Fatalf("a flow consumed before the crash: %v, want ErrUsed", err)
	}
}

// The races of TestStore's grant and signing key cases, made certain on
// PostgreSQL: another session holds what the callers need until every one of
// them waits inside the server, then lets them all go at once.
func TestPostgresProviderRacesMeet(t *testing.T) {
	pg := pgtest.Start(t)
	ctx := t.Context()
	open := func() store.Store {
		raw, err := store.Open(ctx, pg.URL, store.Options{Migrate: true})
		if err != nil {
			t.Fatal(err)
		}
		s := store.Timed(raw, 30*time.Second, 30*time.Second, nil)
		t.Cleanup(func() { s.Close() })
		return s
	}
	handles := []store.Store{open(), open()}
	conn, err := pgx.Connect(ctx, pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())

	// meet runs n callers while hold keeps them waiting, and returns how many
	// succeeded; every other caller must get ErrUsed, or one of also.
	meet := func(t *testing.T, hold string, n int, call func(s store.Store, i int) error, also ...error) int {
		t.Helper()
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(context.Background())
		if _, err := tx.Exec(ctx, hold); err != nil {
			t.Fatal(err)
		}
		results := make(chan error, n)
		for i := range n {
			go func() { results <- call(handles[i%2], i) }()
		}
		deadline := time.Now().Add(20 * time.Second)
		for waiting := 0; waiting < n; {
			if len(results) > 0 {
				t.Fatalf("a caller answered while held: %v", <-results)
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d callers wait in the server", waiting, n)
			}
			time.Sleep(10 * time.Millisecond)
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM pg_locks WHERE NOT granted`).Scan(&waiting); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
		wins := 0
		for range n {
			switch err := <-results; {
			case err == nil:
				wins++
			case errors.Is(err, store.ErrUsed):
			case slices.ContainsFunc(also, func(e error) bool { return errors.Is(err, e) }):
			default:
				t.Errorf("%v, want nil or ErrUsed", err)
			}
		}
		return wins
	}

	later := time.Now().Add(time.Hour)
	t.Run("put-grant", func(t *testing.T) {
		wins := meet(t, `LOCK TABLE op_grants IN SHARE MODE`, 16, func(s store.Store, i int) error {
			_, err := s.PutGrant(ctx, "g", fmt.Sprint("client-", i), "sub-a", later)
			return err
		})
		if wins != 1 {
			t.Fatalf("%d callers recorded one grant, want 1", wins)
		}
		// The others were replays of its code: the grant is revoked.
		if _, _, err := handles[0].Grant(ctx, "g", time.Now()); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Grant = %v; want it revoked by the replays", err)
		}
	})
	t.Run("rotate-grant", func(t *testing.T) {
		if _, err := handles[0].PutGrant(ctx, "g2", "client-a", "sub-a", later); err != nil {
			t.Fatal(err)
		}
		// One wins; the first after it finds the token used and revokes
		// the grant; the rest find it gone.
		wins := meet(t, `SELECT 1 FROM op_grants WHERE id = 'g2' FOR UPDATE`, 16, func(s store.Store, _ int) error {
			return s.RotateGrant(ctx, "g2", 0, later)
		}, store.ErrNotFound)
		if wins != 1 {
			t.Fatalf("%d callers rotated generation 0, want 1", wins)
		}
		if _, _, err := handles[0].Grant(ctx, "g2", time.Now()); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Grant = %v; want it revoked: one token spent twice", err)
		}
	})
	// Replicas starting together on an empty table, where no row can be
	// locked: one writes the first keys.
	t.Run("first-signing-keys", func(t *testing.T) {
		wins := meet(t, `LOCK TABLE op_signing_keys IN SHARE MODE`, 8, func(s store.Store, i int) error {
			return s.ReplaceSigningKeys(ctx, nil, []store.SigningKeyRecord{signingKey(fmt.Sprint("first-", i), store.KeyActive, time.Now())})
		})
		if wins != 1 {
			t.Fatalf("%d replicas wrote the first keys, want 1", wins)
		}
		got, err := handles[1].SigningKeys(ctx)
		if err != nil || len(got) != 1 {
			t.Fatalf("after the race: %v, %v; want 1 key", keyIDs(got), err)
		}
	})
	t.Run("replace-signing-keys", func(t *testing.T) {
		now := time.Now()
		first := []store.SigningKeyRecord{signingKey("k1", store.KeyActive, now), signingKey("k2", store.KeyNext, now.Add(time.Second))}
		expect, err := handles[0].SigningKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := handles[0].ReplaceSigningKeys(ctx, expect, first); err != nil {
			t.Fatal(err)
		}
		k2 := first[1]
		k2.State = store.KeyActive
		wins := meet(t, `LOCK TABLE op_signing_keys IN SHARE MODE`, 8, func(s store.Store, i int) error {
			return s.ReplaceSigningKeys(ctx, first, []store.SigningKeyRecord{
				retired(first[0], now.Add(time.Hour)), k2, signingKey(fmt.Sprint("k3-", i), store.KeyNext, now.Add(2*time.Second)),
			})
		})
		if wins != 1 {
			t.Fatalf("%d replacers rotated the keys, want 1", wins)
		}
		got, err := handles[1].SigningKeys(ctx)
		if err != nil || len(got) != 3 {
			t.Fatalf("after the race: %v, %v; want 3 keys", keyIDs(got), err)
		}
	})
}
