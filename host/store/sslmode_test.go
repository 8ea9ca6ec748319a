package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/idplug/idplug/host/store"
)

// A store.url for a PostgreSQL on another machine that named no sslmode (the
// common "postgres://idplug:${IDPLUG_DB_PASSWORD}@db.internal:5432/idplug")
// got pgx's default, sslmode=prefer: TLS without checking the server's
// certificate, and plain TCP when the server says it has no TLS. Whoever
// answered for db.internal (a spoofed DNS answer, a rogue service taking the
// name) said "no TLS", asked for the password in the clear, and got it. Such a
// URL is now refused, by idplug validate and at the start, before any
// connection, naming the fix.
func TestRemotePostgresNeedsAnSSLMode(t *testing.T) {
	t.Setenv("PGSSLMODE", "")
	for _, url := range []string{
		"postgres://idplug:s3cret@db.internal:5432/idplug",
		"postgresql://idplug@10.0.0.5/idplug?application_name=idplug",
		"postgres://idplug@127.0.0.1,db.internal/idplug", // a fallback host off this machine
	} {
		err := store.Check(url)
		if err == nil || !strings.Contains(err.Error(), "sslmode=verify-full") || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Check(%s) = %v; want it refused, naming sslmode=verify-full, without the password", store.Redact(url), err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		_, err = store.Open(ctx, url, store.Options{Timeout: time.Second})
		cancel()
		if err == nil || !strings.Contains(err.Error(), "names no sslmode") {
			t.Errorf("Open(%s) = %v; want it refused before connecting", store.Redact(url), err)
		}
	}
	for _, url := range []string{
		"postgres://idplug@db.internal/idplug?sslmode=verify-full",
		"postgres://idplug@db.internal/idplug?sslmode=disable", // the operator's word
		"postgres://idplug@127.0.0.1:5432/idplug",
		"postgres://idplug@localhost/idplug",
		"postgres://idplug@[::1]:5432/idplug",
		"postgres://idplug@%2Fvar%2Frun%2Fpostgresql/idplug", // a Unix socket
	} {
		if err := store.Check(url); err != nil {
			t.Errorf("Check(%s) = %v", url, err)
		}
	}
	t.Setenv("PGSSLMODE", "verify-full")
	if err := store.Check("postgres://idplug@db.internal/idplug"); err != nil {
		t.Errorf("with PGSSLMODE set: %v", err)
	}
}
