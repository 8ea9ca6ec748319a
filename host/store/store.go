// Package store keeps the state that outlives one request: the ids of finished
// sign-in flows (so that none is replayed), browser sessions (so that sign-out
// ends them everywhere) and the token vault's sealed token sets.
//
// Two backends sit behind one interface: SQLite in a file (one idplug process)
// and PostgreSQL (any number of replicas). Open picks one from a URL; Timed
// gives every call a deadline and turns backend failures into ErrUnavailable.
package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

var (
	// ErrUsed is returned by ConsumeFlow for a flow id consumed before.
	ErrUsed = errors.New("store: the flow was used already")
	// ErrNotFound is returned for a session or token record that is not
	// there (or, for a session, revoked or expired).
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
	// PutSession stores a browser session under id (already hashed by the caller).
	PutSession(ctx context.Context, id string, data []byte, expires time.Time) error
	// Session returns a live session; ErrNotFound when absent, revoked or expired.
	Session(ctx context.Context, id string, now time.Time) ([]byte, error)
	// RevokeSession ends a session; revoking an unknown one is not an error.
	RevokeSession(ctx context.Context, id string) error
}

// Tokens keeps the token vault's sealed records.
type Tokens interface {
	// PutTokens inserts or replaces a vault record.
	PutTokens(ctx context.Context, rec TokenRecord) error
	// Tokens reads a vault record; ErrNotFound when there is none.
	Tokens(ctx context.Context, connector, userID string) (TokenRecord, error)
	// DeleteTokens removes a vault record and returns it; ErrNotFound when there is none.
	DeleteTokens(ctx context.Context, connector, userID string) (TokenRecord, error)
	// UpdateTokens runs fn on a record while holding it locked against every
	// other UpdateTokens of the same record, in any process sharing the
	// database. A non-nil record from fn replaces the stored one. An error
	// from fn is returned as it is, after the record was saved if fn also
	// returned one. ErrNotFound when there is no record.
	UpdateTokens(ctx context.Context, connector, userID string, fn func(TokenRecord) (*TokenRecord, error)) error
	// EachTokens calls fn for every vault record, replacing each for which fn
	// returns a record (used to re-encrypt the vault under a new key).
	EachTokens(ctx context.Context, fn func(TokenRecord) (*TokenRecord, error)) (int, error)
}

// Store is the state backend: every part above, and its upkeep. Every method
// honours ctx's deadline. A consumer takes the part it uses (the vault takes
// Tokens), so what it can touch is what its type says.
type Store interface {
	Flows
	Sessions
	Tokens

	// Purge deletes consumed flows and sessions that expired before now.
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
	// idplug migrate); without it, a database behind the binary's schema is refused.
	Migrate bool
	// ConnectTimeout bounds opening a connection (default 5s).
	ConnectTimeout time.Duration
}

// Open opens the store a URL names: sqlite:PATH (relative to BaseDir) or
// postgres://... / postgresql://...
func Open(ctx context.Context, url string, opts Options) (Store, error) {
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

// Redact hides the password in a database URL, for messages.
func Redact(url string) string {
	scheme, rest, ok := strings.Cut(url, "://")
	if !ok {
		return url
	}
	userinfo, hostPart, ok := strings.Cut(rest, "@")
	if !ok {
		return url
	}
	if name, _, hasPass := strings.Cut(userinfo, ":"); hasPass {
		return scheme + "://" + name + ":xxxxx@" + hostPart
	}
	return url
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
