package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // the pure-Go driver keeps the build cgo-free
)

// sqliteStore keeps state in one SQLite file in WAL mode: readers never wait
// for the writer, and a commit survives the process being killed. It serves one
// idplug process; replicas need PostgreSQL.
type sqliteStore struct {
	db    *sql.DB
	locks *keyLocks
	// writer lets one write at a time reach SQLite: writers that meet in
	// SQLite wait in its busy handler, which sleeps in steps of milliseconds.
	writer chan struct{}
	flows  *batcher[flowRow]
	tokens *batcher[TokenRecord]
	// flowStmts[n] inserts n flow ids; used holding the write slot.
	flowStmts [maxBatch + 1]*sql.Stmt
	putStmt   *sql.Stmt // upserts one vault record
	path      string
	// alone holds the file's exclusive lock while this store keeps flows in
	// memory (holdAlone); closed, and so let go, by Close.
	alone *os.File
}

// write runs fn holding the write slot, or gives up when ctx ends.
func (s *sqliteStore) write(ctx context.Context, fn func() error) error {
	select {
	case s.writer <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.writer }()
	return fn()
}

// shortWrite is write for the few-row statements of a sign-in or a token
// request (a grant recorded, rotated or revoked), run with a context that
// never ends. Inside them SQLite waits only for another process's lock, which
// busy_timeout (the store's timeout) bounds, or for the disk, which no
// interrupt stops; and the driver watches a context that can end with a
// goroutine of its own per statement, a cost the sign-in path should not pay
// (BENCHMARKS.md, "State").
func (s *sqliteStore) shortWrite(ctx context.Context, fn func(ctx context.Context) error) error {
	return s.write(ctx, func() error { return fn(context.WithoutCancel(ctx)) })
}

// sharedFile is what every handle on one database file in this process shares:
// the write slot and the record locks. It cannot live in the store value:
// UpdateTokens promises exclusion against every other handle on the database,
// and SQLite offers no lock that could be held while fn waits on a provider
// without stopping every other writer of the file.
type sharedFile struct {
	locks  *keyLocks
	writer chan struct{}
}

var sharedFiles = struct {
	sync.Mutex
	m map[string]*sharedFile
}{m: map[string]*sharedFile{}}

// shared returns the state of file that this process's handles share.
func shared(file string) *sharedFile {
	sharedFiles.Lock()
	defer sharedFiles.Unlock()
	f := sharedFiles.m[file]
	if f == nil {
		f = &sharedFile{locks: &keyLocks{}, writer: make(chan struct{}, 1)}
		sharedFiles.m[file] = f
	}
	return f
}

func openSQLite(ctx context.Context, file string, opts Options) (Store, error) {
	if file == "" {
		return nil, errors.New("store: sqlite: needs a file name, like sqlite:idplug.db")
	}
	if !filepath.IsAbs(file) {
		file = filepath.Join(opts.BaseDir, file)
	}
	file = filepath.Clean(file)
	// The vault and sessions are nobody else's business: the file (created
	// 0600), the -wal and -shm beside it and its folder are idplug's alone
	// (sqlite_files.go).
	if err := openSQLiteFile(file, opts.Migrate); err != nil {
		return nil, err
	}
	var alone *os.File
	if opts.OneProcess {
		var err error
		if alone, err = holdAlone(file); err != nil {
			return nil, err
		}
	}
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	// NORMAL in WAL mode: a commit survives the process being killed; only a
	// power loss may take the last commits back.
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", opts.Timeout.Milliseconds()))
	// Every connection zeroes what it deletes or replaces: a vault record a
	// user deleted, or a refresh replaced, had stayed in the free space of its
	// page, readable under its key after that key was rotated away.
	q.Add("_pragma", "secure_delete(ON)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+uriPath(file)+"?"+q.Encode())
	if err != nil {
		if alone != nil {
			alone.Close()
		}
		return nil, fmt.Errorf("store: sqlite: %w", err)
	}
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	db.SetConnMaxIdleTime(5 * time.Minute)
	sf := shared(file)
	s := &sqliteStore{db: db, locks: sf.locks, writer: sf.writer, path: file, alone: alone}
	s.flows = newBatcher(consumeBatch(s.insertFlows))
	s.tokens = newBatcher(s.putTokens)
	if err := s.migrate(ctx, opts.Migrate); err != nil {
		s.Close()
		return nil, err
	}
	if s.putStmt, err = db.PrepareContext(ctx, sqliteUpsertTokens); err != nil {
		s.Close()
		return nil, fmt.Errorf("store: sqlite: %w", err)
	}
	return s, nil
}

// uriPath escapes a file path for a "file:" URI, which the driver and SQLite
// read as one: unescaped, a '?' or '#' would end the path (and the pragmas
// after it would be lost), and a '%' would be decoded, so that SQLite opened
// another file than the one created and checked above.
func uriPath(file string) string {
	var b strings.Builder
	for i := 0; i < len(file); i++ {
		switch c := file[i]; c {
		case '%', '?', '#':
			fmt.Fprintf(&b, "%%%02X", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func (s *sqliteStore) Backend() string { return "sqlite" }

func (s *sqliteStore) Close() error {
	for _, stmt := range append(s.flowStmts[:], s.putStmt) {
		if stmt != nil {
			stmt.Close()
		}
	}
	err := s.db.Close()
	if s.alone != nil {
		s.alone.Close()
	}
	return err
}

func (s *sqliteStore) Ping(ctx context.Context) error {
	var one int
	return s.db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// migrate brings the schema up to date in one immediate transaction, which
// takes SQLite's write lock: a second process opening the file waits.
func (s *sqliteStore) migrate(ctx context.Context, apply bool) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: sqlite: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("store: sqlite: %w", err)
	}
	var have int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return fmt.Errorf("store: sqlite: %w", err)
	}
	if have > SchemaVersion() {
		return errSchemaAhead(have)
	}
	if have == SchemaVersion() {
		return tx.Commit()
	}
	if !apply {
		return errSchemaBehind(have)
	}
	for _, m := range migrations("sqlite") {
		if m.version <= have {
			continue
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("store: sqlite: migration %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`, m.version, m.name, time.Now().UnixMilli()); err != nil {
			return fmt.Errorf("store: sqlite: %w", err)
		}
	}
	return tx.Commit()
}

func (s *sqliteStore) ConsumeFlow(ctx context.Context, id string, expires time.Time) error {
	return s.flows.do(ctx, flowRow{id, ms(expires)})
}

// insertFlows inserts a batch of flow ids in one statement, and so one
// transaction: a commit in WAL mode costs more than the rows it writes.
func (s *sqliteStore) insertFlows(ctx context.Context, ids []string, expires []int64) (map[string]bool, error) {
	inserted := make(map[string]bool, len(ids))
	err := s.shortWrite(ctx, func(ctx context.Context) error {
		stmt, err := s.flowInsert(ctx, len(ids))
		if err != nil {
			return err
		}
		args := make([]any, 0, 2*len(ids))
		for i, id := range ids {
			args = append(args, id, expires[i])
		}
		rows, err := stmt.QueryContext(ctx, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			inserted[id] = true
		}
		return rows.Err()
	})
	return inserted, err
}

// flowInsert returns the insert of n flow ids, prepared once rather than parsed
// again for every batch. Called holding the write slot.
func (s *sqliteStore) flowInsert(ctx context.Context, n int) (*sql.Stmt, error) {
	if stmt := s.flowStmts[n]; stmt != nil {
		return stmt, nil
	}
	var q strings.Builder
	q.WriteString(`INSERT INTO consumed_flows (id, expires_at) VALUES (?, ?)`)
	for range n - 1 {
		q.WriteString(", (?, ?)")
	}
	q.WriteString(` ON CONFLICT (id) DO NOTHING RETURNING id`)
	stmt, err := s.db.PrepareContext(ctx, q.String())
	if err != nil {
		return nil, err
	}
	s.flowStmts[n] = stmt
	return stmt, nil
}

func (s *sqliteStore) PutSession(ctx context.Context, id string, data []byte, expires time.Time) error {
	return s.write(ctx, func() error {
		_, err := s.db.ExecContext(ctx, `INSERT INTO user_sessions (id, data, expires_at) VALUES (?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at WHERE user_sessions.revoked = 0`, id, data, ms(expires))
		return err
	})
}

func (s *sqliteStore) Session(ctx context.Context, id string, now time.Time) ([]byte, error) {
	var data []byte
	err := s.db.QueryRowContext(ctx, `SELECT data FROM user_sessions WHERE id = ? AND revoked = 0 AND expires_at > ?`, id, ms(now)).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return data, err
}

func (s *sqliteStore) RenewSession(ctx context.Context, id string, data []byte, expires time.Time) error {
	return s.write(ctx, func() error {
		res, err := s.db.ExecContext(ctx, `UPDATE user_sessions SET data = ?, expires_at = ? WHERE id = ? AND revoked = 0`, data, ms(expires), id)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err == nil && n == 0 {
			err = ErrNotFound
		}
		return err
	})
}

func (s *sqliteStore) RevokeSession(ctx context.Context, id string) error {
	return s.write(ctx, func() error {
		_, err := s.db.ExecContext(ctx, `UPDATE user_sessions SET revoked = 1, expires_at = MIN(expires_at, ?) WHERE id = ?`, ms(time.Now()), id)
		return err
	})
}

const sqliteTokenColumns = `connector, user_id, key_id, sealed, expires_at, refresh_failed, updated_at`

type scanner interface{ Scan(...any) error }

func scanTokens(row scanner) (TokenRecord, error) {
	var r TokenRecord
	var exp, upd int64
	err := row.Scan(&r.Connector, &r.UserID, &r.KeyID, &r.Sealed, &exp, &r.RefreshFailed, &upd)
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrNotFound
	}
	r.ExpiresAt, r.UpdatedAt = fromMS(exp), fromMS(upd)
	return r, err
}

const sqliteUpsertTokens = `INSERT INTO vault_tokens (` + sqliteTokenColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (connector, user_id) DO UPDATE SET key_id = excluded.key_id, sealed = excluded.sealed,
	expires_at = excluded.expires_at, refresh_failed = excluded.refresh_failed, updated_at = excluded.updated_at`

func sqliteTokenArgs(r TokenRecord) []any {
	return []any{r.Connector, r.UserID, r.KeyID, r.Sealed, ms(r.ExpiresAt), r.RefreshFailed, time.Now().UnixMilli()}
}

// PutTokens takes the record's lock, as UpdateTokens does, before it joins a
// batch: a sign-in during a refresh of the same record waits for it, and is
// not overwritten by it. Writes of other records still batch.
func (s *sqliteStore) PutTokens(ctx context.Context, r TokenRecord) error {
	unlock, err := s.locks.lock(ctx, recordKey(r.Connector, r.UserID))
	if err != nil {
		return err
	}
	defer unlock()
	return s.tokens.do(ctx, r)
}

// putTokens writes a batch of vault records in one transaction.
func (s *sqliteStore) putTokens(ctx context.Context, recs []TokenRecord) ([]error, error) {
	recs = lastOfEach(recs)
	return nil, s.shortWrite(ctx, func(ctx context.Context) error {
		if len(recs) == 1 {
			_, err := s.putStmt.ExecContext(ctx, sqliteTokenArgs(recs[0])...)
			return err
		}
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		put := tx.StmtContext(ctx, s.putStmt)
		for _, r := range recs {
			if _, err := put.ExecContext(ctx, sqliteTokenArgs(r)...); err != nil {
				return err
			}
		}
		return tx.Commit()
	})
}

func (s *sqliteStore) Tokens(ctx context.Context, connector, userID string) (TokenRecord, error) {
	return scanTokens(s.db.QueryRowContext(ctx, `SELECT `+sqliteTokenColumns+` FROM vault_tokens WHERE connector = ? AND user_id = ?`, connector, userID))
}

// DeleteTokens takes the record's lock, as UpdateTokens does: a delete during
// a refresh waits for it and removes what it stored (and hands back those
// tokens to revoke), rather than being undone by its write.
func (s *sqliteStore) DeleteTokens(ctx context.Context, connector, userID string) (rec TokenRecord, err error) {
	unlock, err := s.locks.lock(ctx, recordKey(connector, userID))
	if err != nil {
		return rec, err
	}
	defer unlock()
	err = s.write(ctx, func() error {
		rec, err = scanTokens(s.db.QueryRowContext(ctx, `DELETE FROM vault_tokens WHERE connector = ? AND user_id = ? RETURNING `+sqliteTokenColumns, connector, userID))
		return err
	})
	return rec, err
}

// UpdateTokens holds an in-process lock on the record rather than a database
// transaction: fn may wait on a provider, and SQLite has one writer for the
// whole file. PutTokens and DeleteTokens take the same lock.
func (s *sqliteStore) UpdateTokens(ctx context.Context, connector, userID string, fn func(TokenRecord) (*TokenRecord, error)) error {
	unlock, err := s.locks.lock(ctx, recordKey(connector, userID))
	if err != nil {
		return err
	}
	defer unlock()
	rec, err := s.Tokens(ctx, connector, userID)
	if err != nil {
		return err
	}
	next, fnErr := fn(rec)
	if next != nil {
		wctx, cancel := writeContext(ctx)
		defer cancel()
		// Batched with sign-ins, it keeps its deadline: a batch has its
		// latest caller's (batch.go).
		if err := s.tokens.do(wctx, *next); err != nil { // the lock is held already
			return err
		}
	}
	return fnErr
}

func (s *sqliteStore) EachTokens(ctx context.Context, fn func(TokenRecord) (*TokenRecord, error)) (int, error) {
	return inBatches(func(after *TokenRecord) (n int, last *TokenRecord, err error) {
		err = s.write(ctx, func() error {
			n, last, err = s.eachTokens(ctx, after, fn)
			return err
		})
		return n, last, err
	})
}

// eachTokens runs fn over the batch of records that follows after (from the
// first, when nil), in one transaction; last is batchEnd of its records.
func (s *sqliteStore) eachTokens(ctx context.Context, after *TokenRecord, fn func(TokenRecord) (*TokenRecord, error)) (n int, last *TokenRecord, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, nil, err
	}
	defer tx.Rollback()
	q, args := `SELECT `+sqliteTokenColumns+` FROM vault_tokens ORDER BY connector, user_id LIMIT ?`, []any{EachTokensBatch}
	if after != nil {
		q = `SELECT ` + sqliteTokenColumns + ` FROM vault_tokens WHERE (connector, user_id) > (?, ?) ORDER BY connector, user_id LIMIT ?`
		args = []any{after.Connector, after.UserID, EachTokensBatch}
	}
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return 0, nil, err
	}
	var recs []TokenRecord
	for rows.Next() {
		r, err := scanTokens(rows)
		if err != nil {
			rows.Close()
			return 0, nil, err
		}
		recs = append(recs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, nil, err
	}
	for _, r := range recs {
		next, err := fn(r)
		if err != nil {
			return 0, nil, err
		}
		if next != nil {
			if _, err := tx.ExecContext(ctx, sqliteUpsertTokens, sqliteTokenArgs(*next)...); err != nil {
				return 0, nil, err
			}
			n++
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, nil, err
	}
	return n, batchEnd(recs), nil
}

// Rebuild rewrites the database file whole (VACUUM), so that nothing deleted
// or replaced is left in its free space: what was freed before every
// connection zeroed it (secure_delete) stays there until then. It needs the
// file alone, as VACUUM holds it for as long as it takes: ErrInUse while
// another process (idplug serve) has it.
func (s *sqliteStore) Rebuild(ctx context.Context) error {
	if s.alone == nil {
		alone, err := holdAlone(s.path)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrInUse, err)
		}
		defer alone.Close()
	}
	return s.write(ctx, func() error {
		if _, err := s.db.ExecContext(ctx, `VACUUM`); err != nil {
			return err
		}
		return s.checkpoint(ctx)
	})
}

// Checkpoint copies the write-ahead log into the database file and truncates
// it (Checkpointer).
func (s *sqliteStore) Checkpoint(ctx context.Context) error {
	return s.write(ctx, func() error { return s.checkpoint(ctx) })
}

// checkpoint copies the log into the file and truncates it, or fails saying
// that another process's reading kept it from doing so.
func (s *sqliteStore) checkpoint(ctx context.Context) error {
	var busy, logFrames, moved int
	if err := s.db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logFrames, &moved); err != nil {
		return err
	}
	if busy != 0 {
		return errors.New("another process (idplug serve, a backup?) was using the write-ahead log: " +
			"its old pages stay until the next checkpoint; run this again")
	}
	return nil
}

// ConnectorsConfigured runs in one immediate transaction: another process
// setting its list at the same time waits, then starts from this one's.
func (s *sqliteStore) ConnectorsConfigured(ctx context.Context, ids []string, now time.Time) (map[string]int64, error) {
	if ids == nil {
		ids = []string{} // "[]": json_each of "null" is one NULL row, and NOT IN a NULL is never true
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	removed := map[string]int64{}
	err = s.write(ctx, func() error {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, `UPDATE connectors SET configured = 0, removed_at = ?
			WHERE configured = 1 AND id NOT IN (SELECT value FROM json_each(?))`, ms(now), string(list)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO connectors (id, configured, removed_at)
			SELECT value, 1, 0 FROM json_each(?) WHERE true
			ON CONFLICT (id) DO UPDATE SET configured = 1`, string(list)); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT id, removed_at FROM connectors WHERE removed_at > 0`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id string
			var at int64
			if err := rows.Scan(&id, &at); err != nil {
				rows.Close()
				return err
			}
			removed[id] = at
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		return tx.Commit()
	})
	if err != nil {
		return nil, err
	}
	return removed, nil
}

func (s *sqliteStore) Purge(ctx context.Context, now time.Time) (int64, error) {
	var total int64
	for _, q := range []string{
		`DELETE FROM consumed_flows WHERE expires_at < ?`,
		`DELETE FROM user_sessions WHERE expires_at < ?`,
		`DELETE FROM op_grants WHERE expires_at < ?`,
		`DELETE FROM op_signing_keys WHERE state = 'retired' AND retire_at <> 0 AND retire_at < ?`,
	} {
		err := s.write(ctx, func() error {
			res, err := s.db.ExecContext(ctx, q, ms(now))
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			total += n
			return nil
		})
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// recordKey names a vault record in keyLocks.
func recordKey(connector, userID string) string { return connector + "\x00" + userID }

// keyLocks is a set of mutexes by key, each dropped when nobody holds it.
type keyLocks struct {
	mu sync.Mutex
	m  map[string]*keyLock
}

type keyLock struct {
	ch   chan struct{} // a one-slot semaphore, so waiting honours ctx
	refs int
}

func (k *keyLocks) lock(ctx context.Context, key string) (func(), error) {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*keyLock{}
	}
	l := k.m[key]
	if l == nil {
		l = &keyLock{ch: make(chan struct{}, 1)}
		k.m[key] = l
	}
	l.refs++
	k.mu.Unlock()
	release := func() {
		k.mu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
	select {
	case l.ch <- struct{}{}:
		return func() { <-l.ch; release() }, nil
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
}
