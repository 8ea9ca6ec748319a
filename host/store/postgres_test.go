package store_test

import (
	"context"
	"errors"
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
	raw, err := store.Open(ctx, pg.URL, store.Options{Migrate: true, ConnectTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	const bound = 2 * time.Second
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
