package store

// The PostgreSQL store's connections: a call waits for one of the pool's
// connections within its context, and the database's work on it is bounded by
// the store's timeout (see Timed).

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// cancelWait is how long a call that ran out of time waits for the server to
// confirm its statement's cancellation, which takes a connection of its own;
// then the connection is dropped.
const cancelWait = 2 * time.Second

// Ping asks the database whether it takes writes, not only whether it answers:
// after a failover that left the URL on a standby (or a database set
// default_transaction_read_only), it answers every read and refuses every
// sign-in's write, and a readiness probe that only pinged kept sending
// requests to a replica that could serve none.
func (s *postgresStore) Ping(ctx context.Context) error {
	return s.with(ctx, func(c *pgxpool.Conn, work context.Context) error {
		var standby bool
		var readOnly string
		if err := c.QueryRow(work, `SELECT pg_is_in_recovery(), current_setting('transaction_read_only')`).Scan(&standby, &readOnly); err != nil {
			return err
		}
		switch {
		case standby:
			return ErrReadOnly{"the database is a standby in recovery"}
		case readOnly == "on":
			return ErrReadOnly{"the database's sessions are read-only (default_transaction_read_only)"}
		}
		return nil
	})
}

// ErrReadOnly is a store that answers but takes no writes.
type ErrReadOnly struct{ Why string }

func (e ErrReadOnly) Error() string { return "store: postgres: no writes: " + e.Why }

// connectWait is how long a call may wait for a connection beyond Timed's
// timeout: long enough for a busy machine to open one.
func (s *postgresStore) connectWait() time.Duration { return s.connect }

// with takes one of the pool's connections, waiting for one within ctx, and
// runs fn on it with the database's work bounded by the store's timeout. A
// statement canceled for want of time comes back as context.DeadlineExceeded,
// as it would have without the cancellation.
func (s *postgresStore) with(ctx context.Context, fn func(c *pgxpool.Conn, work context.Context) error) error {
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer c.Release()
	if s.timeout <= 0 {
		return fn(c, ctx)
	}
	work, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	err = fn(c, work)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) && errors.Is(work.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
		return fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
	}
	return err
}

func (s *postgresStore) exec(ctx context.Context, q string, args ...any) (tag pgconn.CommandTag, err error) {
	err = s.with(ctx, func(c *pgxpool.Conn, work context.Context) error {
		tag, err = c.Exec(work, q, args...)
		return err
	})
	return tag, err
}

// queryRow is pgxpool's QueryRow under with's two bounds: the connection is
// taken when the row is scanned, and given back after.
func (s *postgresStore) queryRow(ctx context.Context, q string, args ...any) pgx.Row {
	return pooledRow{s, ctx, q, args}
}

type pooledRow struct {
	s    *postgresStore
	ctx  context.Context
	q    string
	args []any
}

func (r pooledRow) Scan(dest ...any) error {
	return r.s.with(r.ctx, func(c *pgxpool.Conn, work context.Context) error {
		return c.QueryRow(work, r.q, r.args...).Scan(dest...)
	})
}
