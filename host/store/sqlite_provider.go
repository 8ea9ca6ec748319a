package store

// The OpenID Provider's state in SQLite: grants and signing keys.

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

func (s *sqliteStore) PutGrant(ctx context.Context, id, clientID, subject string, expires time.Time) (ended []string, err error) {
	err = s.shortWrite(ctx, func(ctx context.Context) error {
		ended = nil
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		now := time.Now()
		// An id that exists (a code exchanged again) is revoked at once.
		var revoked bool
		err = tx.QueryRowContext(ctx, `INSERT INTO op_grants (id, client_id, subject, expires_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET revoked = 1, expires_at = MIN(op_grants.expires_at, ?) RETURNING revoked`,
			id, clientID, subject, ms(expires), ms(now.Add(EndedGrantKept))).Scan(&revoked)
		if err != nil {
			return err
		}
		if revoked {
			if err := tx.Commit(); err != nil {
				return err
			}
			return ErrUsed
		}
		if subject != "" {
			rows, err := tx.QueryContext(ctx, `UPDATE op_grants SET revoked = 1, expires_at = MIN(expires_at, ?) WHERE id IN (
				SELECT id FROM op_grants WHERE client_id = ? AND subject = ? AND id <> ? AND revoked = 0 AND expires_at > ?
				ORDER BY expires_at DESC, id LIMIT -1 OFFSET ?) RETURNING id`,
				ms(now.Add(EndedGrantKept)), clientID, subject, id, ms(now), GrantsPerSubject-1)
			if err != nil {
				return err
			}
			if ended, err = scanIDs(rows); err != nil {
				return err
			}
		}
		return tx.Commit()
	})
	if err != nil {
		return nil, err
	}
	return ended, nil
}

// scanIDs reads a column of ids, and closes rows.
func scanIDs(rows *sql.Rows) ([]string, error) {
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// RotateGrant updates the grant only at the expected generation; when it does
// not, a live grant at another generation (a refresh token used again) is
// revoked (ErrUsed), or else the grant is gone (ErrNotFound). Both run in one
// transaction, under SQLite's write lock, so no other process changes the
// grant between them, and a reuse is never seen without its revocation.
func (s *sqliteStore) RotateGrant(ctx context.Context, id string, from int64, expires time.Time) error {
	return s.shortWrite(ctx, func(ctx context.Context) error {
		now := ms(time.Now())
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		res, err := tx.ExecContext(ctx, `UPDATE op_grants SET generation = generation + 1, expires_at = ?
			WHERE id = ? AND generation = ? AND revoked = 0 AND expires_at > ?`, ms(expires), id, from, now)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			res, err := tx.ExecContext(ctx, `UPDATE op_grants SET revoked = 1, expires_at = MIN(expires_at, ?)
				WHERE id = ? AND revoked = 0 AND expires_at > ?`, ms(time.Now().Add(EndedGrantKept)), id, now)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 0 {
				return ErrNotFound
			}
			if err := tx.Commit(); err != nil {
				return err
			}
			return ErrUsed
		}
		return tx.Commit()
	})
}

func (s *sqliteStore) RevokeGrant(ctx context.Context, id string) error {
	return s.shortWrite(ctx, func(ctx context.Context) error {
		_, err := s.db.ExecContext(ctx, `UPDATE op_grants SET revoked = 1, expires_at = MIN(expires_at, ?) WHERE id = ?`,
			ms(time.Now().Add(EndedGrantKept)), id)
		return err
	})
}

func (s *sqliteStore) Grant(ctx context.Context, id string, now time.Time) (clientID string, generation int64, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT client_id, generation FROM op_grants WHERE id = ? AND revoked = 0 AND expires_at > ?`, id, ms(now)).Scan(&clientID, &generation)
	if errors.Is(err, sql.ErrNoRows) {
		return "", 0, ErrNotFound
	}
	return clientID, generation, err
}

func (s *sqliteStore) SigningKeys(ctx context.Context) ([]SigningKeyRecord, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+signingKeyColumns+` FROM op_signing_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return scanSigningKeys(rows)
}

// ReplaceSigningKeys compares and writes in one immediate transaction, which
// holds SQLite's write lock from the first read: another process replacing
// the keys at the same time waits, then finds them changed.
func (s *sqliteStore) ReplaceSigningKeys(ctx context.Context, expect, next []SigningKeyRecord) error {
	if err := checkSigningKeys(next); err != nil {
		return err
	}
	return s.write(ctx, func() error {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		rows, err := tx.QueryContext(ctx, `SELECT id, state FROM op_signing_keys`)
		if err != nil {
			return err
		}
		var stored []keyState
		for rows.Next() {
			var k keyState
			if err := rows.Scan(&k.id, &k.state); err != nil {
				rows.Close()
				return err
			}
			stored = append(stored, k)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if !sameKeys(stored, expect) {
			return ErrUsed
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM op_signing_keys`); err != nil {
			return err
		}
		for _, k := range next {
			if _, err := tx.ExecContext(ctx, `INSERT INTO op_signing_keys (`+signingKeyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
				k.ID, k.Algorithm, k.State, k.Sealed, k.Public, ms(k.CreatedAt), ms(k.RetireAt)); err != nil {
				return err
			}
		}
		return tx.Commit()
	})
}
