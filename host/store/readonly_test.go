package store_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/idplug/idplug/host/store"
	"github.com/idplug/idplug/internal/pgtest"
	"github.com/jackc/pgx/v5"
)

// A database that answers but takes no writes (the URL left on a standby after
// a failover, or sessions read-only by default) passed every ping, while every
// sign-in's write failed: /readyz kept the replica in its load balancer. Ping
// asks whether it takes writes.
func TestPingFailsOnAReadOnlyDatabase(t *testing.T) {
	pg := pgtest.Start(t)
	ctx := t.Context()
	open := func(url string, migrate bool) store.Store {
		t.Helper()
		raw, err := store.Open(ctx, url, store.Options{Migrate: migrate, Timeout: 5 * time.Second, ConnectTimeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		s := store.Timed(raw, 5*time.Second, 5*time.Second, nil)
		t.Cleanup(func() { s.Close() })
		return s
	}
	s := open(pg.URL, true)
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("a writable database: %v", err)
	}
	// Read-only for every session from now on; the restart ends the pool's
	// sessions, so that its next ones are read-only.
	conn, err := pgx.Connect(ctx, pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `ALTER DATABASE idplug SET default_transaction_read_only = on`); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	pg.Stop()
	pg.Restart()
	readOnly := s
	// The pool's sessions from before the restart fail once each, and are
	// dropped; then the ping reaches a new one.
	var ro store.ErrReadOnly
	for range 10 {
		if err = readOnly.Ping(ctx); errors.As(err, &ro) {
			break
		}
	}
	if !errors.As(err, &ro) || !errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), "default_transaction_read_only") {
		t.Fatalf("a read-only database: %v; want ErrUnavailable and ErrReadOnly naming default_transaction_read_only", err)
	}
	// What the ping says is so: the database refuses the write.
	if err := readOnly.ConsumeFlow(ctx, "flow-1", time.Now().Add(time.Minute)); err == nil {
		t.Fatal("the read-only database took a write: the test's premise is gone")
	}
}
