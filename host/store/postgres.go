package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	neturl "net/url"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migrationLockKey is the pg_advisory_lock key that serializes migrations, so
// replicas starting together apply each migration once.
const migrationLockKey = 0x1d91_0001

// postgresStore keeps state in PostgreSQL, shared by every replica.
type postgresStore struct {
	pool *pgxpool.Pool
	// locks queue this process's callers of UpdateTokens on one record before
	// they take a connection: many callers waiting on one row lock would
	// otherwise hold the whole pool.
	locks keyLocks
	// updates bounds the UpdateTokens transactions in flight, each holding a
	// connection for a call to a provider: slow providers must not take
	// every connection from the calls of sign-ins and sessions.
	updates chan struct{}
	flows   *batcher[flowRow]
	tokens  *batcher[TokenRecord]
	// timeout bounds the database's work on a call once it has a connection
	// (Options.Timeout); connect bounds opening one.
	timeout, connect time.Duration
}

// connsKeptFromUpdates is how many of the pool's connections UpdateTokens
// leaves to every other call.
const connsKeptFromUpdates = 4

func openPostgres(ctx context.Context, url string, opts Options) (Store, error) {
	cfg, err := parsePostgresURL(url)
	if err != nil {
		return nil, err
	}
	connect := max(opts.ConnectTimeout, opts.Timeout)
	cfg.ConnConfig.ConnectTimeout = connect
	// A call that runs out of time has its statement canceled in the server
	// before it returns. pgx's default drops the connection and sends the
	// cancellation afterwards, in the background: a statement waiting (for a
	// row lock, say) whose lock went in between still ran, so a delete
	// reported as failed happened, and a grant's rotation would make the
	// client's retry look like a replay.
	cfg.ConnConfig.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: cancelWait}
	}
	if cfg.MaxConns < 16 {
		cfg.MaxConns = 16
	}
	cfg.HealthCheckPeriod = 5 * time.Second
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: postgres: %w", err)
	}
	s := &postgresStore{
		pool:    pool,
		updates: make(chan struct{}, max(1, int(cfg.MaxConns)-connsKeptFromUpdates)),
		timeout: opts.Timeout,
		connect: connect,
	}
	s.flows = newBatcher(consumeBatch(s.insertFlows))
	s.tokens = newBatcher(s.putTokens)
	if err := s.migrate(ctx, opts.Migrate); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

func (s *postgresStore) Backend() string { return "postgres" }
func (s *postgresStore) Close() error    { s.pool.Close(); return nil }

// migrate holds a session advisory lock while it reads the schema version and
// applies what is missing: a replica starting at the same time waits, then
// finds nothing left to do.
func (s *postgresStore) migrate(ctx context.Context, apply bool) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("store: postgres: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLockKey); err != nil {
		return fmt.Errorf("store: postgres: %w", err)
	}
	defer func() {
		// A fresh context: the lock must go even when ctx has ended.
		uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, `SELECT pg_advisory_unlock($1)`, migrationLockKey); err != nil {
			conn.Conn().Close(uctx) // closing the session drops its locks
		}
	}()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("store: postgres: %w", err)
	}
	var have int
	if err := conn.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return fmt.Errorf("store: postgres: %w", err)
	}
	switch {
	case have > SchemaVersion():
		return errSchemaAhead(have)
	case have == SchemaVersion():
		return nil
	case !apply:
		return errSchemaBehind(have)
	}
	for _, m := range migrations("postgres") {
		if m.version <= have {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`, m.version, m.name, time.Now().UnixMilli())
			return err
		})
		if err != nil {
			return fmt.Errorf("store: postgres: migration %s: %w", m.name, err)
		}
	}
	return nil
}

func (s *postgresStore) ConsumeFlow(ctx context.Context, id string, expires time.Time) error {
	return s.flows.do(ctx, flowRow{id, ms(expires)})
}

// insertFlows inserts a batch of flow ids in one round trip. The statement's
// text does not depend on the batch's size, so pgx prepares it once.
func (s *postgresStore) insertFlows(ctx context.Context, ids []string, expires []int64) (map[string]bool, error) {
	inserted := make(map[string]bool, len(ids))
	err := s.with(ctx, func(c *pgxpool.Conn, work context.Context) error {
		rows, err := c.Query(work, `INSERT INTO consumed_flows (id, expires_at)
			SELECT * FROM unnest($1::text[], $2::bigint[]) ON CONFLICT (id) DO NOTHING RETURNING id`, ids, expires)
		if err != nil {
			return err
		}
		var id string
		_, err = pgx.ForEachRow(rows, []any{&id}, func() error {
			inserted[id] = true
			return nil
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return inserted, nil
}

func (s *postgresStore) PutSession(ctx context.Context, id string, data []byte, expires time.Time) error {
	_, err := s.exec(ctx, `INSERT INTO user_sessions (id, data, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at WHERE NOT user_sessions.revoked`, id, data, ms(expires))
	return err
}

func (s *postgresStore) Session(ctx context.Context, id string, now time.Time) ([]byte, error) {
	var data []byte
	err := s.queryRow(ctx, `SELECT data FROM user_sessions WHERE id = $1 AND NOT revoked AND expires_at > $2`, id, ms(now)).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	return data, err
}

func (s *postgresStore) RenewSession(ctx context.Context, id string, data []byte, expires time.Time) error {
	tag, err := s.exec(ctx, `UPDATE user_sessions SET data = $2, expires_at = $3 WHERE id = $1 AND NOT revoked`, id, data, ms(expires))
	if err == nil && tag.RowsAffected() == 0 {
		err = ErrNotFound
	}
	return err
}

func (s *postgresStore) RevokeSession(ctx context.Context, id string) error {
	_, err := s.exec(ctx, `UPDATE user_sessions SET revoked = TRUE, expires_at = LEAST(expires_at, $2) WHERE id = $1`, id, ms(time.Now()))
	return err
}

const pgTokenColumns = `connector, user_id, key_id, sealed, expires_at, refresh_failed, updated_at`

func pgScanTokens(row pgx.Row) (TokenRecord, error) {
	var r TokenRecord
	var exp, upd int64
	err := row.Scan(&r.Connector, &r.UserID, &r.KeyID, &r.Sealed, &exp, &r.RefreshFailed, &upd)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, ErrNotFound
	}
	r.ExpiresAt, r.UpdatedAt = fromMS(exp), fromMS(upd)
	return r, err
}

func pgPut(ctx context.Context, exec func(context.Context, string, ...any) error, r TokenRecord) error {
	return exec(ctx, `INSERT INTO vault_tokens (`+pgTokenColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (connector, user_id) DO UPDATE SET key_id = excluded.key_id, sealed = excluded.sealed,
		expires_at = excluded.expires_at, refresh_failed = excluded.refresh_failed, updated_at = excluded.updated_at`,
		r.Connector, r.UserID, r.KeyID, r.Sealed, ms(r.ExpiresAt), r.RefreshFailed, time.Now().UnixMilli())
}

// execFn is exec in pgPut's shape.
func (s *postgresStore) execFn(ctx context.Context, q string, args ...any) error {
	_, err := s.exec(ctx, q, args...)
	return err
}

func execOf(db interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}) func(context.Context, string, ...any) error {
	return func(ctx context.Context, q string, args ...any) error {
		_, err := db.Exec(ctx, q, args...)
		return err
	}
}

// errRowLocked is a batch's answer for a record whose row another transaction
// holds (a refresh at the provider, a delete, a rekey): the batch wrote the
// others without it, and PutTokens writes it alone.
var errRowLocked = errors.New("store: postgres: the record's row is locked")

// PutTokens writes through the token batch. A record whose row is locked
// leaves the batch and waits for its row alone, within ctx, as a write of it
// did before batching: a sign-in during a refresh of the same record, on any
// replica, is written after the refresh, and the writes of other records
// neither wait for that lock nor fail with it.
func (s *postgresStore) PutTokens(ctx context.Context, r TokenRecord) error {
	err := s.tokens.do(ctx, r)
	if errors.Is(err, errRowLocked) {
		return pgPut(ctx, s.execFn, r)
	}
	return err
}

// putTokens writes a batch of vault records in one round trip, and answers
// errRowLocked for those whose rows were locked. When PostgreSQL refuses the
// statement for a value in it (SQLSTATE classes 22, 23 and 54: a NUL in a
// text, a key too long for its index), each record is written alone, so that
// one record it cannot store fails its own sign-in and no other.
func (s *postgresStore) putTokens(ctx context.Context, recs []TokenRecord) ([]error, error) {
	written, err := s.putTokensAtOnce(ctx, lastOfEach(recs))
	switch {
	case refusedValue(err) && len(recs) > 1:
		results := make([]error, len(recs))
		for i, r := range recs { // in order: the last of each user's records wins, as at once
			written, err := s.putTokensAtOnce(ctx, []TokenRecord{r})
			results[i] = err
			if err == nil && !written[tokenKey{r.Connector, r.UserID}] {
				results[i] = errRowLocked
			}
		}
		return results, nil
	case err != nil:
		return nil, err
	}
	results := make([]error, len(recs))
	for i, r := range recs {
		if !written[tokenKey{r.Connector, r.UserID}] {
			results[i] = errRowLocked
		}
	}
	return results, nil
}

// refusedValue says whether PostgreSQL refused a statement for a value in it.
func refusedValue(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || len(pe.Code) < 2 {
		return false
	}
	switch pe.Code[:2] {
	case "22", "23", "54": // data exception, integrity constraint, program limit
		return true
	}
	return false
}

// tokenKey names a vault record.
type tokenKey struct{ connector, user string }

// putTokensAtOnce upserts recs in one statement, skipping each whose row
// another transaction has locked, and reports those it wrote. The statement
// never waits for a row lock: a refresh holds its row for the whole call to
// the provider, and one record's lock must not stall or fail the batch.
// (Only a row inserted by another transaction after the statement began,
// which it does not see, is waited for.)
func (s *postgresStore) putTokensAtOnce(ctx context.Context, recs []TokenRecord) (map[tokenKey]bool, error) {
	var (
		connectors, users, keys []string
		sealed                  [][]byte
		expires, updated        []int64
		failed                  []bool
	)
	now := time.Now().UnixMilli()
	for _, r := range recs {
		connectors, users, keys = append(connectors, r.Connector), append(users, r.UserID), append(keys, r.KeyID)
		sealed, expires, failed = append(sealed, r.Sealed), append(expires, ms(r.ExpiresAt)), append(failed, r.RefreshFailed)
		updated = append(updated, now)
	}
	// A record is written when its row is new or this statement could lock
	// it. Rows are locked and inserted in (connector, user_id) order, the
	// order rekey and every other batch take them in: two replicas' batches
	// inserting the same new records wait for each other in one order only.
	written := make(map[tokenKey]bool, len(recs))
	err := s.with(ctx, func(c *pgxpool.Conn, work context.Context) error {
		rows, err := c.Query(work, `WITH batch AS (
				SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::bigint[], $6::boolean[], $7::bigint[])
					AS b (connector, user_id, key_id, sealed, expires_at, refresh_failed, updated_at)
			), free AS (
				SELECT v.connector, v.user_id FROM vault_tokens v JOIN batch b USING (connector, user_id)
				ORDER BY 1, 2 FOR UPDATE OF v SKIP LOCKED
			)
			INSERT INTO vault_tokens (`+pgTokenColumns+`)
			SELECT * FROM batch b
			WHERE NOT EXISTS (SELECT FROM vault_tokens v WHERE v.connector = b.connector AND v.user_id = b.user_id)
				OR EXISTS (SELECT FROM free f WHERE f.connector = b.connector AND f.user_id = b.user_id)
			ORDER BY 1, 2
			ON CONFLICT (connector, user_id) DO UPDATE SET key_id = excluded.key_id, sealed = excluded.sealed,
			expires_at = excluded.expires_at, refresh_failed = excluded.refresh_failed, updated_at = excluded.updated_at
			RETURNING connector, user_id`,
			connectors, users, keys, sealed, expires, failed, updated)
		if err != nil {
			return err
		}
		var k tokenKey
		_, err = pgx.ForEachRow(rows, []any{&k.connector, &k.user}, func() error {
			written[k] = true
			return nil
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return written, nil
}

func (s *postgresStore) Tokens(ctx context.Context, connector, userID string) (TokenRecord, error) {
	return pgScanTokens(s.queryRow(ctx, `SELECT `+pgTokenColumns+` FROM vault_tokens WHERE connector = $1 AND user_id = $2`, connector, userID))
}

func (s *postgresStore) DeleteTokens(ctx context.Context, connector, userID string) (TokenRecord, error) {
	return pgScanTokens(s.queryRow(ctx, `DELETE FROM vault_tokens WHERE connector = $1 AND user_id = $2 RETURNING `+pgTokenColumns, connector, userID))
}

// UpdateTokens locks the row with SELECT ... FOR UPDATE for the length of one
// transaction: a replica asking for the same record waits for the commit and
// then reads what this one wrote, and so do PutTokens and DeleteTokens. At
// most the pool's size less connsKeptFromUpdates such transactions run at
// once; more wait, within ctx, without a connection.
func (s *postgresStore) UpdateTokens(ctx context.Context, connector, userID string, fn func(TokenRecord) (*TokenRecord, error)) error {
	unlock, err := s.locks.lock(ctx, recordKey(connector, userID))
	if err != nil {
		return err
	}
	defer unlock()
	select {
	case s.updates <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.updates }()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	// Ended under a deadline of its own: ctx's may be spent by now, and a
	// rollback that cannot be sent closes the connection.
	defer func() {
		rctx, cancel := writeContext(ctx)
		defer cancel()
		_ = tx.Rollback(rctx) // after Commit, a no-op
	}()
	rec, err := pgScanTokens(tx.QueryRow(ctx, `SELECT `+pgTokenColumns+` FROM vault_tokens WHERE connector = $1 AND user_id = $2 FOR UPDATE`, connector, userID))
	if err != nil {
		return err
	}
	next, fnErr := fn(rec)
	if next != nil {
		wctx, cancel := writeContext(ctx)
		defer cancel()
		err := pgPut(wctx, execOf(tx), *next)
		if err == nil {
			err = tx.Commit(wctx)
		}
		if err != nil && tx.Conn().IsClosed() {
			// fn may have rotated the refresh token at the provider, which
			// spent the old one: losing the new one ends the grant. The
			// transaction's connection is gone (a restart, a failover, a
			// proxy cutting an idle transaction), and its lock with it, not
			// the database: write it on another, if the record is still
			// the one fn read. (A statement canceled on a live connection
			// keeps its lock: that is the error it is.)
			err = s.putIfUnchanged(wctx, rec, *next)
		}
		if err != nil {
			return err
		}
	}
	return fnErr
}

// putIfUnchanged writes next in place of was, on a connection of its own,
// only while the row is still was: another replica's refresh or a delete in
// between wins, and the write is refused with an error saying so. A row that
// holds next already is the lost transaction's commit, which the server got
// before the connection went.
func (s *postgresStore) putIfUnchanged(ctx context.Context, was, next TokenRecord) error {
	tag, err := s.pool.Exec(ctx, `UPDATE vault_tokens SET key_id = $3, sealed = $4, expires_at = $5, refresh_failed = $6, updated_at = $7
		WHERE connector = $1 AND user_id = $2 AND key_id = $8 AND sealed = $9 AND updated_at = $10`,
		next.Connector, next.UserID, next.KeyID, next.Sealed, ms(next.ExpiresAt), next.RefreshFailed, time.Now().UnixMilli(),
		was.KeyID, was.Sealed, ms(was.UpdatedAt))
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var keyID string
	var sealed []byte
	err = s.pool.QueryRow(ctx, `SELECT key_id, sealed FROM vault_tokens WHERE connector = $1 AND user_id = $2`, next.Connector, next.UserID).Scan(&keyID, &sealed)
	if err == nil && keyID == next.KeyID && bytes.Equal(sealed, next.Sealed) {
		return nil
	}
	return fmt.Errorf("%w: the record changed while its connection was lost, and the refreshed tokens were not written over it", ErrUnavailable)
}

func (s *postgresStore) EachTokens(ctx context.Context, fn func(TokenRecord) (*TokenRecord, error)) (int, error) {
	return inBatches(func(after *TokenRecord) (int, *TokenRecord, error) { return s.eachTokens(ctx, after, fn) })
}

// eachTokens is sqliteStore.eachTokens, with the batch's rows locked.
func (s *postgresStore) eachTokens(ctx context.Context, after *TokenRecord, fn func(TokenRecord) (*TokenRecord, error)) (n int, last *TokenRecord, err error) {
	var recs []TokenRecord
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		q, args := `SELECT `+pgTokenColumns+` FROM vault_tokens ORDER BY connector, user_id LIMIT $1 FOR UPDATE`, []any{EachTokensBatch}
		if after != nil {
			q = `SELECT ` + pgTokenColumns + ` FROM vault_tokens WHERE (connector, user_id) > ($1, $2) ORDER BY connector, user_id LIMIT $3 FOR UPDATE`
			args = []any{after.Connector, after.UserID, EachTokensBatch}
		}
		rows, err := tx.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			r, err := pgScanTokens(rows)
			if err != nil {
				rows.Close()
				return err
			}
			recs = append(recs, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, r := range recs {
			next, err := fn(r)
			if err != nil {
				return err
			}
			if next != nil {
				if err := pgPut(ctx, execOf(tx), *next); err != nil {
					return err
				}
				n++
			}
		}
		return nil
	})
	if err != nil {
		return 0, nil, err
	}
	return n, batchEnd(recs), nil
}

// ConnectorsConfigured runs in one transaction that locks the table first:
// a replica setting its list at the same time waits, then starts from this
// one's.
func (s *postgresStore) ConnectorsConfigured(ctx context.Context, ids []string, now time.Time) (map[string]int64, error) {
	if ids == nil {
		ids = []string{} // an empty array, not NULL: NOT (id = ANY(NULL)) is never true
	}
	removed := map[string]int64{}
	err := s.with(ctx, func(c *pgxpool.Conn, ctx context.Context) error {
		return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `LOCK TABLE connectors IN EXCLUSIVE MODE`); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE connectors SET configured = FALSE, removed_at = $2
				WHERE configured AND NOT (id = ANY($1::text[]))`, ids, ms(now)); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO connectors (id, configured, removed_at)
				SELECT unnest($1::text[]), TRUE, 0 ON CONFLICT (id) DO UPDATE SET configured = TRUE`, ids); err != nil {
				return err
			}
			rows, err := tx.Query(ctx, `SELECT id, removed_at FROM connectors WHERE removed_at > 0`)
			if err != nil {
				return err
			}
			var id string
			var at int64
			_, err = pgx.ForEachRow(rows, []any{&id, &at}, func() error {
				removed[id] = at
				return nil
			})
			return err
		})
	})
	if err != nil {
		return nil, err
	}
	return removed, nil
}

func (s *postgresStore) Purge(ctx context.Context, now time.Time) (int64, error) {
	var total int64
	for _, q := range []string{
		`DELETE FROM consumed_flows WHERE expires_at < $1`,
		`DELETE FROM user_sessions WHERE expires_at < $1`,
		`DELETE FROM op_grants WHERE expires_at < $1`,
		`DELETE FROM op_signing_keys WHERE state = 'retired' AND retire_at <> 0 AND retire_at < $1`,
	} {
		tag, err := s.pool.Exec(ctx, q, ms(now))
		if err != nil {
			return total, err
		}
		total += tag.RowsAffected()
	}
	return total, nil
}

// parsePostgresURL is pgx's pool configuration of url, or an error that says
// what is wrong with it without its password.
func parsePostgresURL(url string) (*pgxpool.Config, error) {
	// pgx takes the user information to end at the first "@", where Go's URL
	// parser and Redact take the last: with a password holding an unescaped
	// "@", pgx dialed the rest of the password as the host name, and its
	// error named it.
	// pgx looks for that "@" up to the first "/", past a "?" too; an "@" in
	// the query after the user information's is not one.
	_, rest, _ := strings.Cut(url, "://")
	authority, _, _ := strings.Cut(rest, "/")
	if at := strings.LastIndexByte(authority, '@'); at >= 0 && strings.Contains(authority[:at], "@") {
		return nil, fmt.Errorf(`store: postgres: the URL %s has an "@" in its user or password: write it as %%40`, Redact(url))
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		if reason := parseReason(err, url); reason != "" {
			return nil, fmt.Errorf("store: postgres: the URL %s cannot be parsed: %s", Redact(url), reason)
		}
		return nil, fmt.Errorf("store: postgres: the URL %s cannot be parsed", Redact(url))
	}
	if host := remoteWithoutSSLMode(url, cfg); host != "" {
		return nil, fmt.Errorf("store: postgres: the URL %s names no sslmode, and %s is another machine: "+
			"pgx's default (prefer) sends the password in the clear to whoever answers there saying it has no TLS; "+
			"add sslmode=verify-full to the URL (with sslrootcert=FILE for a private CA), or sslmode=disable on a network you trust", Redact(url), host)
	}
	return cfg, nil
}

// remoteWithoutSSLMode is the first host of cfg that is another machine
// (not a Unix socket, not loopback) when url sets no sslmode and PGSSLMODE
// is not set either; "" otherwise.
func remoteWithoutSSLMode(url string, cfg *pgxpool.Config) string {
	if os.Getenv("PGSSLMODE") != "" {
		return ""
	}
	if _, query, ok := strings.Cut(url, "?"); ok {
		if q, err := neturl.ParseQuery(query); err != nil || q.Has("sslmode") {
			return "" // pgx parsed the query and read sslmode
		}
	}
	hosts := []string{cfg.ConnConfig.Host}
	for _, f := range cfg.ConnConfig.Fallbacks {
		hosts = append(hosts, f.Host)
	}
	for _, h := range hosts {
		if strings.HasPrefix(h, "/") || strings.EqualFold(h, "localhost") {
			continue
		}
		if a, err := netip.ParseAddr(h); err == nil && a.Unmap().IsLoopback() {
			continue
		}
		return h
	}
	return ""
}

// parseReason is what pgx says is wrong with url ("failed to configure TLS
// (sslmode is invalid)", "invalid port"), without the URL its message
// repeats, or "" when it cannot be told apart from the URL or might hold the
// password.
func parseReason(err error, url string) string {
	var pe *pgconn.ParseConfigError
	if !errors.As(err, &pe) {
		return ""
	}
	_, reason, ok := strings.Cut(pe.Error(), "`: ")
	if !ok || reason == "" {
		return ""
	}
	// A URL in the reason (a net/url error quotes its input) may hold a
	// password the redaction above missed.
	if pw := urlPassword(url); strings.Contains(reason, "://") || pw != "" && strings.Contains(reason, pw) {
		return ""
	}
	return reason
}

// urlPassword is the password of a postgres:// URL's user info, as written.
func urlPassword(url string) string {
	_, rest, _ := strings.Cut(url, "://")
	at := strings.LastIndexByte(rest, '@')
	if at < 0 {
		return ""
	}
	_, pw, _ := strings.Cut(rest[:at], ":")
	return pw
}
