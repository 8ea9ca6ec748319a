package store_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idplug/idplug/host/store"
	"github.com/idplug/idplug/internal/pgtest"
	"github.com/jackc/pgx/v5"
)

// A burst of callers makes the pool open connections, and a busy machine may
// take longer than the store's timeout to open one. Those callers wait for
// their turn at a database that is up: they get their answer, not
// ErrUnavailable. The store's timeout still bounds the database's work once a
// call has a connection.
func TestPostgresCallsWaitForSlowConnections(t *testing.T) {
	pg := pgtest.Start(t)
	// A second: a read on a connection it has meets it on a loaded machine.
	const timeout = time.Second
	// Every new connection reaches the database this late: first three
	// seconds, three times the store's timeout and within the connect
	// timeout (5s).
	var late atomic.Int64
	late.Store(int64(3 * time.Second))
	direct := net.JoinHostPort("127.0.0.1", strconv.Itoa(pg.Port))
	url := strings.Replace(pg.URL, direct, slowConnections(t, direct, &late), 1)
	raw, err := store.Open(t.Context(), url, store.Options{Migrate: true, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	s := store.Timed(raw, timeout, timeout, nil)
	defer s.Close()
	ctx := t.Context()
	rec := store.TokenRecord{Connector: "acme", UserID: "alice", KeyID: "k1", Sealed: []byte("sealed"), ExpiresAt: time.Now().Add(time.Hour)}
	if err := s.PutTokens(ctx, rec); err != nil {
		t.Fatal(err)
	}

	t.Run("a burst waits for new connections", func(t *testing.T) {
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				got, err := s.Tokens(ctx, "acme", "alice")
				if err != nil {
					t.Errorf("read in a burst: %v", err)
					return
				}
				if got.KeyID != "k1" {
					t.Errorf("read in a burst: key %q", got.KeyID)
				}
			})
		}
		wg.Wait()
	})

	t.Run("the database's work is still bounded by the timeout", func(t *testing.T) {
		// A cancel request takes a connection of its own: late, it shows
		// whether the call waited for it (pgx's own way sends it after the
		// call has returned). Within cancelWait (2s).
		late.Store(int64(300 * time.Millisecond))

		// Another session holds the record's row: a delete waits inside the
		// server, on a connection it already has.
		lock, err := pgx.Connect(ctx, pg.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer lock.Close(context.Background())
		tx, err := lock.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, `SELECT 1 FROM vault_tokens WHERE connector = 'acme' AND user_id = 'alice' FOR UPDATE`); err != nil {
			t.Fatal(err)
		}
		_, err = s.DeleteTokens(ctx, "acme", "alice")
		if !errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), "delete_tokens took longer than 1s") {
			t.Fatalf("delete behind another session's lock: %v, want ErrUnavailable naming the timeout", err)
		}
		// By the time the call returned, nothing waited on the lock any more:
		// the delete was canceled in the server first. (With pgx's own way the
		// lock was still awaited here, and a lock freed in between let the
		// statement run.)
		if n := lockWaits(t, tx); n != 0 {
			t.Fatalf("the timed-out delete still waits on the row's lock in the server (%d waiting)", n)
		}
		if err := tx.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
		// The delete was canceled in the server, not left to run once the
		// lock went.
		if _, err := s.Tokens(ctx, "acme", "alice"); err != nil {
			t.Fatalf("the record after the timed-out delete: %v", err)
		}
	})
}

// lockWaits counts the server processes that wait on a lock.
func lockWaits(t *testing.T, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) int {
	t.Helper()
	var n int
	if err := q.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// slowConnections listens on loopback and relays each connection to to,
// late by what late holds: a database server slow to start its processes.
// Stopped with the test.
func slowConnections(t *testing.T, to string, late *atomic.Int64) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	keep := func(c net.Conn) bool {
		mu.Lock()
		defer mu.Unlock()
		select {
		case <-done:
			c.Close()
			return false
		default:
			open = append(open, c)
			return true
		}
	}
	t.Cleanup(func() {
		close(done)
		l.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			if !keep(in) {
				return
			}
			wg.Go(func() {
				select {
				case <-time.After(time.Duration(late.Load())):
				case <-done:
					return
				}
				out, err := net.DialTimeout("tcp", to, 5*time.Second)
				if err != nil {
					in.Close()
					return
				}
				if !keep(out) {
					return
				}
				wg.Go(func() { _, _ = io.Copy(out, in); out.Close() })
				_, _ = io.Copy(in, out)
				in.Close()
			})
		}
	})
	return l.Addr().String()
}
