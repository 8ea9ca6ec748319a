package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Observer hears about every store call, for metrics. err is nil, ErrUsed,
// ErrNotFound or an ErrUnavailable. op names the call: consume_flow,
// put_session, get_session, revoke_session, put_tokens, get_tokens,
// delete_tokens, update_tokens, each_tokens, put_grant, rotate_grant,
// revoke_grant, grant, signing_keys, replace_signing_keys, connectors, purge or
// ping.
type Observer func(backend, op string, took time.Duration, err error)

// Timed wraps a Store so that every call has a deadline (timeout; lockTimeout
// for UpdateTokens, whose fn may wait on a provider) and every failure of the
// database comes back as ErrUnavailable, never as a success.
//
// A store with a pool of connections (PostgreSQL) gets its connectWait on top
// of timeout, and bounds the database's work by timeout itself once it holds
// a connection: a burst of callers makes the pool open connections, each a
// new server process, which a busy machine may take most of a second to
// start. Those callers are waiting their turn at a database that is up, and
// must not be told it is unavailable.
func Timed(s Store, timeout, lockTimeout time.Duration, observe Observer) Store {
	if observe == nil {
		observe = func(string, string, time.Duration, error) {}
	}
	t := &timed{s: s, timeout: timeout, lockTimeout: lockTimeout, observe: observe}
	if p, ok := s.(pooled); ok {
		t.wait = p.connectWait()
	}
	return t
}

// pooled is a store whose calls may wait for a connection before the database
// works on them, and which bounds that work by its own timeout.
type pooled interface {
	connectWait() time.Duration
}

type timed struct {
	s                    Store
	timeout, lockTimeout time.Duration
	// wait is how much longer than timeout a call may wait for a connection.
	wait    time.Duration
	observe Observer
}

// call runs fn under the deadline and classifies its error. fnErr, when set,
// is an error of the caller's own that passes through untouched.
func (t *timed) call(ctx context.Context, op string, d time.Duration, fn func(context.Context) error, fnErr *error) error {
	start := time.Now()
	cctx, cancel := context.WithTimeout(ctx, d+t.wait)
	err := fn(cctx)
	cancel()
	switch {
	case err == nil, errors.Is(err, ErrUsed), errors.Is(err, ErrNotFound):
	case fnErr != nil && *fnErr != nil && err == *fnErr:
	case ctx.Err() != nil:
		// The caller gave up (a client went away): not the database's fault.
		err = ctx.Err()
	case errors.Is(err, context.DeadlineExceeded) && t.wait > 0:
		err = fmt.Errorf("%w: %s took longer than %s (or found no connection within %s more)", ErrUnavailable, op, d, t.wait)
	case errors.Is(err, context.DeadlineExceeded):
		err = fmt.Errorf("%w: %s took longer than %s", ErrUnavailable, op, d)
	case errors.As(err, new(ErrReadOnly)):
		err = fmt.Errorf("%w: %s: %w", ErrUnavailable, op, err) // /readyz says why
	default:
		err = fmt.Errorf("%w: %s: %v", ErrUnavailable, op, err)
	}
	obsErr := err
	if fnErr != nil && *fnErr != nil && err == *fnErr {
		obsErr = nil
	}
	t.observe(t.s.Backend(), op, time.Since(start), obsErr)
	return err
}

func (t *timed) ConsumeFlow(ctx context.Context, id string, expires time.Time) error {
	return t.call(ctx, "consume_flow", t.timeout, func(ctx context.Context) error { return t.s.ConsumeFlow(ctx, id, expires) }, nil)
}

func (t *timed) PutSession(ctx context.Context, id string, data []byte, expires time.Time) error {
	return t.call(ctx, "put_session", t.timeout, func(ctx context.Context) error { return t.s.PutSession(ctx, id, data, expires) }, nil)
}

func (t *timed) Session(ctx context.Context, id string, now time.Time) (data []byte, err error) {
	err = t.call(ctx, "get_session", t.timeout, func(ctx context.Context) error {
		data, err = t.s.Session(ctx, id, now)
		return err
	}, nil)
	return data, err
}

func (t *timed) RenewSession(ctx context.Context, id string, data []byte, expires time.Time) error {
	return t.call(ctx, "renew_session", t.timeout, func(ctx context.Context) error { return t.s.RenewSession(ctx, id, data, expires) }, nil)
}

func (t *timed) RevokeSession(ctx context.Context, id string) error {
	return t.call(ctx, "revoke_session", t.timeout, func(ctx context.Context) error { return t.s.RevokeSession(ctx, id) }, nil)
}

func (t *timed) PutTokens(ctx context.Context, rec TokenRecord) error {
	return t.call(ctx, "put_tokens", t.timeout, func(ctx context.Context) error { return t.s.PutTokens(ctx, rec) }, nil)
}

func (t *timed) Tokens(ctx context.Context, connector, userID string) (rec TokenRecord, err error) {
	err = t.call(ctx, "get_tokens", t.timeout, func(ctx context.Context) error {
		rec, err = t.s.Tokens(ctx, connector, userID)
		return err
	}, nil)
	return rec, err
}

func (t *timed) DeleteTokens(ctx context.Context, connector, userID string) (rec TokenRecord, err error) {
	err = t.call(ctx, "delete_tokens", t.timeout, func(ctx context.Context) error {
		rec, err = t.s.DeleteTokens(ctx, connector, userID)
		return err
	}, nil)
	return rec, err
}

func (t *timed) UpdateTokens(ctx context.Context, connector, userID string, fn func(TokenRecord) (*TokenRecord, error)) error {
	var fnErr error
	wrapped := func(r TokenRecord) (*TokenRecord, error) {
		var next *TokenRecord
		next, fnErr = fn(r)
		return next, fnErr
	}
	return t.call(ctx, "update_tokens", t.lockTimeout, func(ctx context.Context) error {
		return t.s.UpdateTokens(withWriteTimeout(ctx, t.timeout), connector, userID, wrapped)
	}, &fnErr)
}

// writeTimeoutKey carries, in the context of UpdateTokens, how long the write
// of fn's record may take (Timed's timeout).
type writeTimeoutKey struct{}

// defaultWriteTimeout bounds that write for a store used without Timed.
const defaultWriteTimeout = 5 * time.Second

func withWriteTimeout(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, writeTimeoutKey{}, d)
}

// writeContext is the context of UpdateTokens's write of fn's record: a
// deadline of its own, and none of ctx's. The wait for the lock and fn (a call
// to the provider) may have used up ctx's deadline, and the record may hold a
// refresh token the provider has just rotated: the old one is spent, so a
// write that failed for want of time would end the user's grant.
func writeContext(ctx context.Context) (context.Context, context.CancelFunc) {
	d, _ := ctx.Value(writeTimeoutKey{}).(time.Duration)
	if d <= 0 {
		d = defaultWriteTimeout
	}
	return context.WithTimeout(context.WithoutCancel(ctx), d)
}

func (t *timed) EachTokens(ctx context.Context, fn func(TokenRecord) (*TokenRecord, error)) (n int, err error) {
	var fnErr error
	wrapped := func(r TokenRecord) (*TokenRecord, error) {
		var next *TokenRecord
		next, fnErr = fn(r)
		return next, fnErr
	}
	// A whole-vault pass: bounded by the caller's context only.
	err = t.call(ctx, "each_tokens", 24*time.Hour, func(ctx context.Context) error {
		n, err = t.s.EachTokens(ctx, wrapped)
		return err
	}, &fnErr)
	return n, err
}

// Rebuild passes Rebuilder on; a store that frees nothing into its file has
// nothing to do. Bounded by the caller's context only, as the whole file is.
func (t *timed) Rebuild(ctx context.Context) error {
	r, ok := t.s.(Rebuilder)
	if !ok {
		return nil
	}
	return r.Rebuild(ctx)
}

// Checkpoint passes Checkpointer on; a store without a log has nothing to do.
func (t *timed) Checkpoint(ctx context.Context) error {
	c, ok := t.s.(Checkpointer)
	if !ok {
		return nil
	}
	return t.call(ctx, "checkpoint", 24*time.Hour, c.Checkpoint, nil)
}

func (t *timed) PutGrant(ctx context.Context, id, clientID, subject string, expires time.Time) (ended []string, err error) {
	err = t.call(ctx, "put_grant", t.timeout, func(ctx context.Context) error {
		var err error
		ended, err = t.s.PutGrant(ctx, id, clientID, subject, expires)
		return err
	}, nil)
	return ended, err
}

func (t *timed) RotateGrant(ctx context.Context, id string, from int64, expires time.Time) error {
	return t.call(ctx, "rotate_grant", t.timeout, func(ctx context.Context) error { return t.s.RotateGrant(ctx, id, from, expires) }, nil)
}

func (t *timed) RevokeGrant(ctx context.Context, id string) error {
	return t.call(ctx, "revoke_grant", t.timeout, func(ctx context.Context) error { return t.s.RevokeGrant(ctx, id) }, nil)
}

func (t *timed) Grant(ctx context.Context, id string, now time.Time) (clientID string, generation int64, err error) {
	err = t.call(ctx, "grant", t.timeout, func(ctx context.Context) error {
		clientID, generation, err = t.s.Grant(ctx, id, now)
		return err
	}, nil)
	return clientID, generation, err
}

func (t *timed) SigningKeys(ctx context.Context) (keys []SigningKeyRecord, err error) {
	err = t.call(ctx, "signing_keys", t.timeout, func(ctx context.Context) error {
		keys, err = t.s.SigningKeys(ctx)
		return err
	}, nil)
	return keys, err
}

// ReplaceSigningKeys refuses a key set that cannot be written before it calls
// the database: that error is the caller's, not the database's.
func (t *timed) ReplaceSigningKeys(ctx context.Context, expect, next []SigningKeyRecord) error {
	if err := checkSigningKeys(next); err != nil {
		return err
	}
	return t.call(ctx, "replace_signing_keys", t.timeout, func(ctx context.Context) error { return t.s.ReplaceSigningKeys(ctx, expect, next) }, nil)
}

func (t *timed) ConnectorsConfigured(ctx context.Context, ids []string, now time.Time) (removed map[string]int64, err error) {
	err = t.call(ctx, "connectors", t.timeout, func(ctx context.Context) error {
		removed, err = t.s.ConnectorsConfigured(ctx, ids, now)
		return err
	}, nil)
	return removed, err
}

func (t *timed) Purge(ctx context.Context, now time.Time) (n int64, err error) {
	err = t.call(ctx, "purge", t.lockTimeout, func(ctx context.Context) error {
		n, err = t.s.Purge(ctx, now)
		return err
	}, nil)
	return n, err
}

func (t *timed) Ping(ctx context.Context) error {
	return t.call(ctx, "ping", t.timeout, t.s.Ping, nil)
}

func (t *timed) Backend() string { return t.s.Backend() }
func (t *timed) Close() error    { return t.s.Close() }

// PurgeEvery deletes expired rows every interval until ctx ends. Errors are
// reported to onError and retried at the next tick.
func PurgeEvery(ctx context.Context, s Store, interval time.Duration, onError func(error)) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if _, err := s.Purge(ctx, time.Now()); err != nil && ctx.Err() == nil && onError != nil {
				onError(err)
			}
		}
	}
}
