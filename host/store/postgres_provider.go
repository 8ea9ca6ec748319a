package store

// The OpenID Provider's state in PostgreSQL: grants and signing keys.

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PutGrant inserts and trims in one statement. Its parts see the table as it
// was before it, so the trim does not see the new grant. An id that exists (a
// code exchanged again) is revoked by the same statement.
func (s *postgresStore) PutGrant(ctx context.Context, id, clientID, subject string, expires time.Time) (ended []string, err error) {
	now := time.Now()
	var inserted int
	err = s.queryRow(ctx, `WITH ins AS (
			INSERT INTO op_grants (id, client_id, subject, expires_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (id) DO UPDATE SET revoked = TRUE, expires_at = LEAST(op_grants.expires_at, $7)
			RETURNING revoked
		), ended AS (
			UPDATE op_grants SET revoked = TRUE, expires_at = LEAST(expires_at, $7)
			WHERE $3 <> '' AND EXISTS (SELECT 1 FROM ins WHERE NOT revoked) AND id IN (
				SELECT id FROM op_grants WHERE client_id = $2 AND subject = $3 AND NOT revoked AND expires_at > $5
				ORDER BY expires_at DESC, id OFFSET $6)
			RETURNING id
		)
		SELECT (SELECT count(*) FROM ins WHERE NOT revoked), COALESCE((SELECT array_agg(id) FROM ended), '{}')`,
		id, clientID, subject, ms(expires), ms(now), GrantsPerSubject-1, ms(now.Add(EndedGrantKept))).Scan(&inserted, &ended)
	switch {
	case err != nil:
		return nil, err
	case inserted == 0:
		return nil, ErrUsed
	}
	return ended, nil
}

// RotateGrant is one statement: of replicas rotating the same generation at
// once, the first takes the row's lock and the others, once it commits, find
// the generation moved on; a live grant it did not rotate (a refresh token
// used again) is revoked by the same statement, so that the reuse is never
// seen without the revocation. The revoking part does not ask for another
// generation: its rows are those of the statement's snapshot, taken before a
// concurrent rotation committed, in which the generation had not moved yet.
func (s *postgresStore) RotateGrant(ctx context.Context, id string, from int64, expires time.Time) error {
	now := time.Now()
	var rotated, revoked int
	err := s.queryRow(ctx, `WITH rot AS (
			UPDATE op_grants SET generation = generation + 1, expires_at = $3
			WHERE id = $1 AND generation = $2 AND NOT revoked AND expires_at > $4
			RETURNING 1
		), rev AS (
			UPDATE op_grants SET revoked = TRUE, expires_at = LEAST(expires_at, $5)
			WHERE id = $1 AND NOT revoked AND expires_at > $4 AND NOT EXISTS (SELECT 1 FROM rot)
			RETURNING 1
		)
		SELECT (SELECT count(*) FROM rot), (SELECT count(*) FROM rev)`,
		id, from, ms(expires), ms(now), ms(now.Add(EndedGrantKept))).Scan(&rotated, &revoked)
	switch {
	case err != nil:
		return err
	case rotated == 1:
		return nil
	case revoked == 1:
		return ErrUsed
	}
	return ErrNotFound
}

func (s *postgresStore) RevokeGrant(ctx context.Context, id string) error {
	_, err := s.exec(ctx, `UPDATE op_grants SET revoked = TRUE, expires_at = LEAST(expires_at, $2) WHERE id = $1`,
		id, ms(time.Now().Add(EndedGrantKept)))
	return err
}

func (s *postgresStore) Grant(ctx context.Context, id string, now time.Time) (clientID string, generation int64, err error) {
	err = s.queryRow(ctx, `SELECT client_id, generation FROM op_grants WHERE id = $1 AND NOT revoked AND expires_at > $2`, id, ms(now)).Scan(&clientID, &generation)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", 0, ErrNotFound
	}
	return clientID, generation, err
}

func (s *postgresStore) SigningKeys(ctx context.Context) ([]SigningKeyRecord, error) {
	var keys []SigningKeyRecord
	err := s.with(ctx, func(c *pgxpool.Conn, work context.Context) error {
		rows, err := c.Query(work, `SELECT `+signingKeyColumns+` FROM op_signing_keys ORDER BY created_at, id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		keys, err = scanSigningKeys(rows)
		return err
	})
	return keys, err
}

// ReplaceSigningKeys locks the table before it reads: row locks would not do,
// since two replicas creating the first keys find no row to lock. EXCLUSIVE
// mode lets SigningKeys go on reading and makes a second replacer wait for the
// commit; in READ COMMITTED its read then sees what the first one wrote.
func (s *postgresStore) ReplaceSigningKeys(ctx context.Context, expect, next []SigningKeyRecord) error {
	if err := checkSigningKeys(next); err != nil {
		return err
	}
	return s.with(ctx, func(c *pgxpool.Conn, ctx context.Context) error { return s.replaceSigningKeys(ctx, c, expect, next) })
}

func (s *postgresStore) replaceSigningKeys(ctx context.Context, c *pgxpool.Conn, expect, next []SigningKeyRecord) error {
	return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE op_signing_keys IN EXCLUSIVE MODE`); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT id, state FROM op_signing_keys`)
		if err != nil {
			return err
		}
		var stored []keyState
		var k keyState
		if _, err := pgx.ForEachRow(rows, []any{&k.id, &k.state}, func() error {
			stored = append(stored, k)
			return nil
		}); err != nil {
			return err
		}
		if !sameKeys(stored, expect) {
			return ErrUsed
		}
		if _, err := tx.Exec(ctx, `DELETE FROM op_signing_keys`); err != nil {
			return err
		}
		var (
			ids, algs, states []string
			sealed, public    [][]byte
			created, retire   []int64
		)
		for _, k := range next {
			ids, algs, states = append(ids, k.ID), append(algs, k.Algorithm), append(states, k.State)
			sealed, public = append(sealed, k.Sealed), append(public, k.Public)
			created, retire = append(created, ms(k.CreatedAt)), append(retire, ms(k.RetireAt))
		}
		_, err = tx.Exec(ctx, `INSERT INTO op_signing_keys (`+signingKeyColumns+`)
			SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::bytea[], $6::bigint[], $7::bigint[])`,
			ids, algs, states, sealed, public, created, retire)
		return err
	})
}
