// Package seal turns state that the host hands out (a sign-in session with its
// state, redirect URI and PKCE verifier, a user session cookie) into opaque
// tokens that only the host can read, and that come back untampered or not at
// all. Any number of host replicas sharing the keys can open each other's
// tokens, so a sign-in flow needs no shared storage.
//
// A token is AES-256-GCM encrypted with a key derived by HKDF-SHA256 from an
// operator's secret. Its purpose (say "authz:acme") is authenticated but not
// stored, so a token sealed for one use does not open for another; its expiry
// is inside the encrypted payload.
//
// Keys rotate: the first key seals, every key opens. To rotate, put the new
// key first and keep the old one until the tokens it sealed have expired.
// With random 96-bit nonces a key must not seal more than 2^32 tokens.
package seal

import (
	"errors"
	"fmt"
	"time"
)

// MinKeyLen is the shortest secret accepted, in bytes.
const MinKeyLen = 32

// Errors returned by Open; test for them with errors.Is. Their messages never
// contain the token.
var (
	// ErrMalformed means the input is not a token at all: not base64url, too
	// short or too long, or of an unknown version.
	ErrMalformed = errors.New("seal: malformed token")
	// ErrInvalid means the token does not authenticate: it was changed, it was
	// sealed with a key that is not configured, or for another purpose. These
	// causes are indistinguishable on purpose.
	ErrInvalid = errors.New("seal: invalid token")
	// ErrExpired means the token is authentic but its lifetime is over.
	ErrExpired = errors.New("seal: token expired")
)

// Sealer seals and opens tokens. It is safe for concurrent use.
type Sealer struct {
	keys []key // keys[0] seals
	now  func() time.Time
}

// Option configures a Sealer.
type Option func(*Sealer)

// WithClock makes the Sealer read the time from now instead of time.Now, so
// that tests can control expiry.
func WithClock(now func() time.Time) Option {
	return func(s *Sealer) { s.now = now }
}

// New returns a Sealer for keys: keys[0] seals, every key opens. Each key
// must be at least MinKeyLen bytes of secret material. The keys are not kept;
// only keys derived from them are.
func New(keys [][]byte, opts ...Option) (*Sealer, error) {
	if len(keys) == 0 {
		return nil, errors.New("seal: no keys given")
	}
	s := &Sealer{now: time.Now}
	for i, secret := range keys {
		// Say which key and how long, never what it is.
		if len(secret) < MinKeyLen {
			return nil, fmt.Errorf("seal: key %d is %d bytes, needs at least %d", i, len(secret), MinKeyLen)
		}
		k, err := deriveKey(secret)
		if err != nil {
			return nil, fmt.Errorf("seal: key %d: %w", i, err)
		}
		s.keys = append(s.keys, k)
	}
	for _, opt := range opts {
		opt(s)
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}
