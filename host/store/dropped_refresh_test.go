package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/idplug/idplug/host/store"
	"github.com/idplug/idplug/internal/pgtest"
	"github.com/jackc/pgx/v5"
)

// A vault refresh on PostgreSQL holds its transaction (SELECT ... FOR UPDATE)
// open for the whole call to the provider. When that connection is dropped
// while the provider is rotating the refresh token (PostgreSQL restarted or
// failed over, a proxy or firewall cutting an idle-in-transaction connection,
// idle_in_transaction_session_timeout), the provider has already spent the old
// refresh token, and the new tokens fn returns must still be stored: the
// database is up again by the time fn returns. UpdateTokens had written them
// only inside the dead transaction, failed with ErrUnavailable, and left the
// record holding the spent refresh token: the next read refreshed with it, the
// provider refused (and, with reuse detection, revoked the whole grant) and
// the user had to sign in again. They are now written on another connection,
// if the record is still the one fn read.
func TestRefreshSurvivesADroppedConnection(t *testing.T) {
	ctx := t.Context()
	s, admin := aliceOnPostgres(t)

	err := s.UpdateTokens(ctx, "acme", "alice", func(r store.TokenRecord) (*store.TokenRecord, error) {
		// At the provider: the connection holding the record's lock is cut.
		var n int
		if err := admin.QueryRow(ctx, `SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Fatalf("terminated %d transactions, want the refresh's one", n)
		}
		// The provider answers: refresh-token-1 is spent, refresh-token-2 is the grant now.
		r.Sealed = []byte("refresh-token-2")
		return &r, nil
	})
	got, readErr := s.Tokens(ctx, "acme", "alice")
	if readErr != nil {
		t.Fatal(readErr)
	}
	if err != nil || string(got.Sealed) != "refresh-token-2" {
		t.Fatalf("after the provider rotated the refresh token and the connection dropped: UpdateTokens = %v, stored %q; "+
			"want nil and the rotated tokens stored (the database was up to take them)", err, got.Sealed)
	}
}

// The lock died with the connection: another writer (a new sign-in, a
// delete) may have changed the record before the refreshed tokens are written
// again. Its write wins, and the refresh says it was not stored.
func TestRefreshAfterADroppedConnectionDoesNotOverwriteANewerRecord(t *testing.T) {
	ctx := t.Context()
	s, admin := aliceOnPostgres(t)
	err := s.UpdateTokens(ctx, "acme", "alice", func(r store.TokenRecord) (*store.TokenRecord, error) {
		if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'`); err != nil {
			t.Fatal(err)
		}
		// A new sign-in's tokens, written once the lock is gone.
		if _, err := admin.Exec(ctx, `UPDATE vault_tokens SET sealed = 'a-new-sign-in', updated_at = updated_at + 1 WHERE user_id = 'alice'`); err != nil {
			t.Fatal(err)
		}
		r.Sealed = []byte("refresh-token-2")
		return &r, nil
	})
	got, readErr := s.Tokens(ctx, "acme", "alice")
	if readErr != nil {
		t.Fatal(readErr)
	}
	if err == nil || string(got.Sealed) != "a-new-sign-in" {
		t.Fatalf("UpdateTokens = %v, stored %q; want an error and the newer record kept", err, got.Sealed)
	}
}

// aliceOnPostgres is a store on a real PostgreSQL holding alice's record
// ("refresh-token-1"), and an administrator's connection to it.
func aliceOnPostgres(t *testing.T) (store.Store, *pgx.Conn) {
	t.Helper()
	pg := pgtest.Start(t)
	ctx := t.Context()
	raw, err := store.Open(ctx, pg.URL, store.Options{Migrate: true, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s := store.Timed(raw, 2*time.Second, 10*time.Second, nil)
	t.Cleanup(func() { s.Close() })
	if err := s.PutTokens(ctx, store.TokenRecord{Connector: "acme", UserID: "alice", KeyID: "k", Sealed: []byte("refresh-token-1")}); err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.Connect(ctx, pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close(context.Background()) })
	return s, admin
}
