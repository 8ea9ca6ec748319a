package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/idplug/idplug/host/store"
	"github.com/idplug/idplug/internal/pgtest"
	"github.com/jackc/pgx/v5"
)

// TestMigrationFromFirstSchema opens a database an idplug of schema 1 wrote:
// refused until migrated, then migrated to the current schema with its rows
// kept.
func TestMigrationFromFirstSchema(t *testing.T) {
	if v := store.SchemaVersion(); v != 5 {
		t.Fatalf("SchemaVersion() = %d, want 5", v)
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
			if _, err := s.PutGrant(ctx, "migrated", "client-a", "sub-a", time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			k := signingKey("k1", store.KeyActive, time.Now())
			if err := s.ReplaceSigningKeys(ctx, nil, []store.SigningKeyRecord{k}); err != nil {
				t.Fatal(err)
			}
			if removed, err := s.ConnectorsConfigured(ctx, []string{"acme"}, time.Now()); err != nil || len(removed) != 0 {
				t.Fatalf("the connectors after the migration: %v, %v", removed, err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			for q, want := range map[string]int{
				`SELECT COUNT(*) FROM schema_migrations`:     5,
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
			if n, err := query(`SELECT COUNT(*) FROM schema_migrations`); err != nil || n != 5 {
				t.Fatalf("schema_migrations has %d rows after a second migration, %v; want 5", n, err)
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
