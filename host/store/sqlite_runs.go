package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The run records of SQLite, for LocalFlows: see migrations/sqlite/0003.

// holdAlone takes the database at path for this process alone, for as long
// as the returned file stays open: flows kept in memory are single-use only
// while no other process finishes flows of the same database. The lock is
// flock(2) on a file of its own beside the database (path + ".lock"), never
// on the database: closing any descriptor of the database would drop every
// fcntl lock SQLite holds on it in this process. It goes with the process: a
// crash lets it go.
//
// The lock is beside the file the path leads to, links followed: a second
// process given a link to the same database took a lock of its own beside
// the link.
func holdAlone(path string) (*os.File, error) {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	f, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: sqlite: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("store: sqlite: %s is in use by another idplug process: a SQLite store serves one process "+
				"(it keeps the finished sign-ins in that process's memory); stop the other one, or give both a PostgreSQL store", path)
		}
		return nil, fmt.Errorf("store: sqlite: locking %s: %w", path, err)
	}
	return f, nil
}

// beginRun starts a run: its number, the last run's (prev), and the floor below
// which flows are refused (this run, when the last one did not stop
// gracefully). It reads back the consumed flows the last run saved that have
// not expired by now.
//
// A run's number is the time it started, in Unix milliseconds (or the last
// run's plus one, should the clock have gone back), not a count: a database
// restored from a backup then never numbers a run as one of the lost timeline
// did, and the flows that timeline finished, which the copy does not know of,
// name a run it never had (between prev and this run), refused as stale.
func (s *sqliteStore) beginRun(ctx context.Context, now time.Time) (run, prev, floor int64, used []flowRow, err error) {
	err = s.write(ctx, func() error {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		var last, lastFloor int64
		var clean bool
		if err := tx.QueryRowContext(ctx, `SELECT run, floor, clean FROM process_runs WHERE id = 1`).Scan(&last, &lastFloor, &clean); err != nil {
			return err
		}
		run, prev, floor = max(last+1, now.UnixMilli()), last, lastFloor
		if !clean {
			floor = run
		}
		if _, err := tx.ExecContext(ctx, `UPDATE process_runs SET run = ?, floor = ?, clean = 0 WHERE id = 1`, run, floor); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT id, expires_at FROM consumed_flows WHERE expires_at >= ?`, ms(now))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r flowRow
			if err := rows.Scan(&r.id, &r.expires); err != nil {
				return err
			}
			used = append(used, r)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		return tx.Commit()
	})
	if err != nil {
		return 0, 0, 0, nil, fmt.Errorf("store: sqlite: starting a run: %w", err)
	}
	return run, prev, floor, used, nil
}

// endRun saves run's consumed flows and marks it stopped gracefully, in one
// transaction: either the next run finds both, or it finds neither and refuses
// what was sealed before it. A run that is no longer the last one started (a
// second process on the file, which the store does not support) is not marked.
func (s *sqliteStore) endRun(ctx context.Context, run int64, used []flowRow) error {
	err := s.write(ctx, func() error {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO consumed_flows (id, expires_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, r := range used {
			if _, err := stmt.ExecContext(ctx, r.id, r.expires); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE process_runs SET clean = 1 WHERE id = 1 AND run = ?`, run); err != nil {
			return err
		}
		return tx.Commit()
	})
	if err != nil {
		return fmt.Errorf("store: sqlite: saving the consumed flows failed, so the next start refuses every sign-in started before it, as after a crash: %w", err)
	}
	return nil
}
