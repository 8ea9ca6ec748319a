// Package store keeps the state that outlives one request: the ids of finished
// sign-in flows (so that none is replayed), browser sessions (so that sign-out
// ends them everywhere), the token vault's sealed token sets, and, for idplug as
// an OpenID Provider, its grants (so that a refresh token used twice is caught)
// and its signing keys (so that every replica signs with the same key and one
// rotation happens once).
//
// Two backends sit behind one interface: SQLite in a file (one idplug process)
// and PostgreSQL (any number of replicas). Open picks one from a URL; Timed
// gives every call a deadline and turns backend failures into ErrUnavailable.
// Times are kept to the millisecond.
package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

var (
	// ErrUsed is returned when a single use was used already, or a record
	// changed under the caller: by ConsumeFlow for a flow id consumed before,
	// by PutGrant for a grant id recorded before, by RotateGrant for a live
	// grant at another generation, and by ReplaceSigningKeys when the stored
	// keys are no longer the expected ones.
	ErrUsed = errors.New("store: used already, or changed by another caller")
	// ErrNotFound is returned for a session, token record or grant that is
	// not there (or, for a session or grant, revoked or expired).
	ErrNotFound = errors.New("store: no such record")
	// ErrUnavailable wraps every failure to reach or use the database.
	ErrUnavailable = errors.New("store: the database cannot be reached")
)

// TokenRecord is one vault entry. Sealed is the token set, encrypted by the
// vault; the store never sees it in the clear.
type TokenRecord struct {
	Connector string
	UserID    string
	// KeyID names the vault key that sealed the record.
	KeyID  string
	Sealed []byte
	// ExpiresAt is when the access token expires; zero when unknown.
	ExpiresAt time.Time
	// RefreshFailed marks a record whose refresh the provider refused.
	RefreshFailed bool
	UpdatedAt     time.Time
}

// Flows records finished sign-in flows, so that each is used once.
type Flows interface {
	// ConsumeFlow records a finished flow atomically; ErrUsed when its id was
	// recorded before, by this process or any other sharing the database.
	ConsumeFlow(ctx context.Context, id string, expires time.Time) error
}

// Sessions keeps browser sessions.
type Sessions interface {
	// PutSession stores a browser session under id (already hashed by the
	// caller), replacing a live one of that id; a revoked one stays revoked,
	// and nothing is stored.
	PutSession(ctx context.Context, id string, data []byte, expires time.Time) error
	// Session returns a live session; ErrNotFound when absent, revoked or expired.
	Session(ctx context.Context, id string, now time.Time) ([]byte, error)
	// RevokeSession ends a session, whose row then goes with the next purge
	// (what it held, a sealed identity of up to 16 KiB say, need not wait
	// for its own expiry); revoking an unknown one is not an error.
	RevokeSession(ctx context.Context, id string) error
	// RenewSession replaces a session's data and expiry (a record that lives
	// as long as something else does, and is sealed until then); ErrNotFound
	// when it is absent or revoked.
	RenewSession(ctx context.Context, id string, data []byte, expires time.Time) error
}

// Tokens keeps the token vault's sealed records.
type Tokens interface {
	// PutTokens inserts or replaces a vault record. It waits for an
	// UpdateTokens of the record to end, and then replaces what it stored.
	PutTokens(ctx context.Context, rec TokenRecord) error
	// Tokens reads a vault record; ErrNotFound when there is none.
	Tokens(ctx context.Context, connector, userID string) (TokenRecord, error)
	// DeleteTokens removes a vault record and returns it; ErrNotFound when
	// there is none. It waits for an UpdateTokens of the record to end, and
	// then removes (and returns) what it stored.
	DeleteTokens(ctx context.Context, connector, userID string) (TokenRecord, error)
	// UpdateTokens runs fn on a record while holding it locked against every
	// other UpdateTokens, PutTokens and DeleteTokens of the same record, in
	// any process sharing the database. A non-nil record from fn replaces the
	// stored one, written under a deadline of its own (Timed's timeout) even
	// when ctx has ended: it may hold tokens the provider has just rotated. An
	// error from fn is returned as it is, after the record was saved if fn
	// also returned one. ErrNotFound when there is no record.
	UpdateTokens(ctx context.Context, connector, userID string, fn func(TokenRecord) (*TokenRecord, error)) error
	// EachTokens calls fn for every vault record, replacing each for which fn
	// returns a record (used to re-encrypt the vault under a new key). It goes
	// in batches of EachTokensBatch records, each read and replaced in one
	// transaction: a refresh waits for one batch at most, never for the whole
	// vault. On an error, the batches before it stay replaced; n counts them.
	EachTokens(ctx context.Context, fn func(TokenRecord) (*TokenRecord, error)) (n int, err error)
}

// EachTokensBatch is how many vault records one transaction of EachTokens
// reads and replaces. The whole vault in one had held the store for seconds
// on a large vault: a refresh finishing meanwhile could not store the
// provider's rotated tokens within its timeout, and its user had to sign in
// again.
const EachTokensBatch = 200

// inBatches runs batch from the first record on, each time after the last
// record the one before returned, until one returns none (a batch shorter than
// EachTokensBatch: batchEnd) or an error; n counts what the batches replaced.
func inBatches(batch func(after *TokenRecord) (n int, last *TokenRecord, err error)) (n int, err error) {
	var after *TokenRecord
	for {
		replaced, last, err := batch(after)
		n += replaced
		if err != nil || last == nil {
			return n, err
		}
		after = last
	}
}

// batchEnd is the record the next batch starts after, or nil when recs, a
// batch's records, were the last.
func batchEnd(recs []TokenRecord) *TokenRecord {
	if len(recs) < EachTokensBatch {
		return nil
	}
	return &recs[len(recs)-1]
}

// Rebuilder is a store whose file keeps what it frees until it is rebuilt
// (SQLite). Rebuild fails with ErrInUse while another process uses it.
type Rebuilder interface {
	Rebuild(ctx context.Context) error
}

// ErrInUse is a store another process holds.
var ErrInUse = errors.New("store: in use by another process")

// Checkpointer is a store that keeps a write-ahead log beside its file
// (SQLite). Checkpoint copies the log into the file and empties it, so that
// replaced rows (vault records sealed under a retired key) are left in
// neither; it fails when another process is using the log at that moment.
type Checkpointer interface {
	Checkpoint(ctx context.Context) error
}

// GrantsPerSubject is how many live grants one subject keeps at one client.
// Every sign-in an app completes makes one, so without a bound one account
// holder could fill the store with grants that live for weeks; 100 is what
// large providers allow (Google: 100 refresh tokens per account and client).
const GrantsPerSubject = 100

// EndedGrantKept is how long the row of an ended grant (by PutGrant's cap or
// RevokeGrant) stays, past the life of any code (a minute) whose replay must
// still find it.
const EndedGrantKept = 10 * time.Minute

// Grants keeps the OpenID Provider's grants: one per authorization code
// exchanged. A grant's refresh tokens carry its generation; using one moves the
// grant to the next generation, so a refresh token used twice is caught
// (RFC 9700 4.14: the whole grant is then revoked).
type Grants interface {
	// PutGrant records a new grant at generation 0 for a client and a subject;
	// ErrUsed when the id exists (a code exchanged twice), which is then
	// revoked in the same write. The subject keeps at
	// most GrantsPerSubject live grants at the client: recording one more ends
	// those of the others that expire first (normally the ones refreshed least
	// recently), never the new one, and returns their ids. An ended grant's
	// row is kept EndedGrantKept, for a replay of its code to be caught, and
	// then purged. Replicas recording at the same moment may leave a few more,
	// until the subject's next grant.
	PutGrant(ctx context.Context, id, clientID, subject string, expires time.Time) (ended []string, err error)
	// RotateGrant moves a live grant from generation `from` to from+1 and sets its
	// expiry, atomically across every replica. ErrUsed when the grant was live but
	// at another generation (an old refresh token came back), which revokes it in
	// the same write; ErrNotFound when it is absent, revoked or expired (at the
	// time of the call, by this process's clock).
	RotateGrant(ctx context.Context, id string, from int64, expires time.Time) error
	// RevokeGrant ends a grant, whose row is then kept EndedGrantKept, as
	// PutGrant keeps those it ends; revoking an unknown or revoked one is not
	// an error.
	RevokeGrant(ctx context.Context, id string) error
	// Grant returns a live grant's client id and generation; ErrNotFound when
	// absent, revoked or expired (at now).
	Grant(ctx context.Context, id string, now time.Time) (clientID string, generation int64, err error)
}

// The states of a signing key, in the order a key goes through them.
const (
	KeyNext    = "next"    // published, not yet signing
	KeyActive  = "active"  // signing
	KeyRetired = "retired" // published until RetireAt, no longer signing
)

// SigningKeyRecord is one of the provider's signing keys; Sealed is the private
// key, sealed by the caller (the store never sees it in the clear).
type SigningKeyRecord struct {
	ID        string
	Algorithm string // "ES256", "RS256"
	// State is "next" (published, not yet signing), "active" (signing) or
	// "retired" (published until RetireAt, no longer signing).
	State     string
	Sealed    []byte
	Public    []byte // the public key as a JWK (JSON)
	CreatedAt time.Time
	RetireAt  time.Time // zero unless retired
}

// SigningKeys keeps the provider's signing keys, shared by every replica.
type SigningKeys interface {
	// SigningKeys lists every key, oldest first (by CreatedAt, then ID).
	SigningKeys(ctx context.Context) ([]SigningKeyRecord, error)
	// ReplaceSigningKeys writes the whole key set in one transaction, but only if
	// the stored set is still `expect` (compared by ID and State, in any order);
	// ErrUsed when another replica changed it first (the caller reads again and
	// retries). This is how a rotation (next -> active -> retired, a new next)
	// happens exactly once across replicas.
	//
	// Every key of next needs an ID of its own, an Algorithm, Sealed and Public,
	// a State of the three, and a RetireAt exactly when retired; a set that
	// breaks this is refused with an error that is neither ErrUsed nor
	// ErrUnavailable, and nothing is written.
	ReplaceSigningKeys(ctx context.Context, expect, next []SigningKeyRecord) error
}

// Connectors remembers which connectors are configured, so that a connector's
// removal outlives the process that saw it and reaches the other replicas.
type Connectors interface {
	// ConnectorsConfigured records ids as the connectors configured now: each
	// one configured before and missing from ids is marked removed at now. It
	// returns when every connector ever removed was last removed (Unix ms).
	ConnectorsConfigured(ctx context.Context, ids []string, now time.Time) (removed map[string]int64, err error)
}

// Store is the state backend: every part above, and its upkeep. Every method
// honours ctx's deadline. A consumer takes the part it uses (the vault takes
// Tokens, the OpenID Provider Grants and SigningKeys), so what it can touch is
// what its type says.
type Store interface {
	Flows
	Sessions
	Tokens
	Grants
	SigningKeys
	Connectors

	// Purge deletes consumed flows, sessions and grants that expired before
	// now, and retired signing keys whose RetireAt is before now.
	Purge(ctx context.Context, now time.Time) (int64, error)
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Backend is "sqlite" or "postgres".
	Backend() string
	Close() error
}

// Options tune Open.
type Options struct {
	// BaseDir resolves a relative SQLite path.
	BaseDir string
	// Migrate applies pending schema migrations on open (idplug serve and
	// idplug migrate), and makes a SQLite file that is missing; without it, a
	// database behind the binary's schema, or no database, is refused.
	Migrate bool
	// OneProcess takes a SQLite database for this process alone before
	// anything else, migrations included, for a caller that keeps its flows
	// in memory (KeepFlowsInMemory, idplug serve): a second such process is
	// refused before it touches the file. PostgreSQL ignores it.
	OneProcess bool
	// Timeout bounds the database's work on one call (default 5s): with
	// SQLite, how long a write waits for another process's lock; with
	// PostgreSQL, each statement once the call has a connection.
	Timeout time.Duration
	// ConnectTimeout bounds opening a connection (default 5s, and never less
	// than Timeout).
	ConnectTimeout time.Duration
}

// Check says what would keep Open from opening url, as far as that can be
// told without connecting or creating anything (for idplug validate): a
// PostgreSQL URL pgx cannot parse, a SQLite file whose folder is missing.
func Check(url string) error {
	switch {
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		_, err := parsePostgresURL(url)
		return err
	case strings.HasPrefix(url, "sqlite:"):
		return checkSQLite(strings.TrimPrefix(url, "sqlite:"))
	}
	return nil
}

// Open opens the store a URL names: sqlite:PATH (relative to BaseDir) or
// postgres://... / postgresql://...
func Open(ctx context.Context, url string, opts Options) (Store, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 5 * time.Second
	}
	switch {
	case strings.HasPrefix(url, "sqlite:"):
		return openSQLite(ctx, strings.TrimPrefix(url, "sqlite:"), opts)
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return openPostgres(ctx, url, opts)
	}
	return nil, fmt.Errorf("store: %s is not a store URL: use sqlite:FILE or postgres://HOST/DB", Redact(url))
}

// Redact hides the passwords in a database URL, for messages: the one in its
// user information, and those its query may carry (password, sslpassword,
// which pgx reads as well). The user information ends at the URL's last "@",
// so that a password with an unescaped "@", "/" or "?" is hidden whole; an
// "@" in the query hides more than it must, never less. Query keys are
// compared as pgx reads them, percent-decoded and trimmed of spaces:
// "pass%77ord" is pgx's password too.
func Redact(url string) string {
	scheme, rest, ok := strings.Cut(url, "://")
	if !ok {
		return url
	}
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		if name, _, hasPass := strings.Cut(rest[:at], ":"); hasPass {
			rest = name + ":xxxxx" + rest[at:]
		}
	}
	if path, query, ok := strings.Cut(rest, "?"); ok {
		params := strings.Split(query, "&")
		for i, p := range params {
			k, _, _ := strings.Cut(p, "=")
			if name := queryKey(k); strings.EqualFold(name, "password") || strings.EqualFold(name, "sslpassword") {
				params[i] = k + "=xxxxx"
			}
		}
		rest = path + "?" + strings.Join(params, "&")
	}
	return scheme + "://" + rest
}

// queryKey is a URL query key as pgx (like libpq) reads it: spaces around it
// dropped, each valid %XX decoded. A malformed escape, which pgx refuses, is
// left as it is.
func queryKey(raw string) string {
	raw = strings.Trim(raw, " ")
	if !strings.Contains(raw, "%") {
		return raw
	}
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		if raw[i] == '%' && i+2 < len(raw) {
			if v, err := strconv.ParseUint(raw[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 2
				continue
			}
		}
		b.WriteByte(raw[i])
	}
	return b.String()
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v)
}

var errBadSigningKeys = errors.New("store: the signing key set cannot be written")
