package oidcprovider

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/idplug/idplug/host/seal"
	"github.com/idplug/idplug/host/store"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// authRequest is a pending authorization request, kept in the store from
// /authorize until the browser comes back from its connector, so that a sign-in
// started on one replica finishes on any other.
type authRequest struct {
	ClientID     string   `json:"c"`
	RedirectURI  string   `json:"r"`
	State        string   `json:"st,omitempty"`
	Nonce        string   `json:"n,omitempty"`
	Scopes       []string `json:"sc"`
	ResponseMode string   `json:"rm,omitempty"`
	// Challenge is the PKCE S256 challenge; "" for a confidential client that
	// sent none.
	Challenge string `json:"pk,omitempty"`
	// Connector is the instance a hint asked for (direct_sign_in, connector_id).
	Connector string `json:"h,omitempty"`
	// HintSub is the subject of a valid id_token_hint: the sign-in must be theirs.
	HintSub string `json:"hs,omitempty"`
	// LoginAfter (Unix milliseconds): a sign-in older than this does not do
	// (prompt=login, max_age).
	LoginAfter int64 `json:"la,omitempty"`
	// Confirm: the code goes to a redirect URI any app on the device may hold
	// (see needsConfirmation), so the person says so on a page of this site first.
	Confirm bool `json:"cf,omitempty"`
	// Browser is the digest of the mark of the browser that made the request
	// (browser.go): only that browser may go on with it. "" in a request made
	// before requests were tied to their browser.
	Browser string `json:"b,omitempty"`
}

// code is what an authorization code stands for, kept in the store for a minute.
type code struct {
	Request  authRequest `json:"q"`
	Identity identity    `json:"u"`
	// Grant is the grant the exchange creates; a second exchange finds it taken.
	Grant string `json:"g"`
}

const (
	codeTTL = time.Minute
	// Bounds of what a client may send; longer is refused (invalid_request), so
	// that what is kept per request stays small.
	maxStateLen = 512
	maxNonceLen = 512
	maxScopeLen = 1024
	// maxRedirectLen bounds redirect_uri, as /v1 bounds redirectUri: a native
	// client's loopback URI matches on any port, so the library does not hold
	// it to the registered one's length.
	maxRedirectLen = 2048
	// maxBody caps every request body the provider reads (forms of a few
	// parameters and tokens).
	maxBody = 64 << 10
)

// newID returns 256 random bits, URL-safe: request ids, codes, grant ids.
func newID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// storeKey is the store's key for a request or code: a hash, so that reading
// the table gives nobody a usable id.
func storeKey(kind, id string) string {
	sum := sha256.Sum256([]byte("oidc-" + kind + "\x00" + id))
	return hex.EncodeToString(sum[:])
}

// recordPurpose seals a record's row (a pending request, a code) under the
// session keys, with its key in the authenticated data, as browser session
// rows are: whoever can write the store can neither edit a record (a code's
// user, a request's redirect URI) nor move one to another key or kind.
func recordPurpose(key string) string { return "oidc-record-row:" + key }

func (p *Provider) putRecord(ctx context.Context, kind, id string, v any, ttl time.Duration) error {
	key, sealed, err := p.sealRecord(kind, id, v, ttl)
	if err != nil {
		return err
	}
	return p.opts.Store.PutSession(ctx, key, sealed, p.opts.Now().Add(ttl))
}

// renewRecord replaces a live record with v, for ttl from now; store.ErrNotFound
// when there is none.
func (p *Provider) renewRecord(ctx context.Context, kind, id string, v any, ttl time.Duration) error {
	key, sealed, err := p.sealRecord(kind, id, v, ttl)
	if err != nil {
		return err
	}
	return p.opts.Store.RenewSession(ctx, key, sealed, p.opts.Now().Add(ttl))
}

func (p *Provider) sealRecord(kind, id string, v any, ttl time.Duration) (key string, sealed []byte, err error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", nil, err
	}
	key = storeKey(kind, id)
	sealed, err = p.opts.Sealer().SealRecord(recordPurpose(key), b, ttl)
	return key, sealed, err
}

// getRecord reads a live record; store.ErrNotFound when it is absent, spent or
// expired, or when its row does not open (logged at WARN with a prefix of the
// row's key, never its content).
func (p *Provider) getRecord(ctx context.Context, kind, id string, v any) error {
	if id == "" || len(id) > 64 {
		return store.ErrNotFound
	}
	key := storeKey(kind, id)
	row, err := p.opts.Store.Session(ctx, key, p.opts.Now())
	if err != nil {
		return err
	}
	b, err := p.opts.Sealer().OpenRecord(recordPurpose(key), row)
	if err == nil {
		err = json.Unmarshal(b, v)
	}
	switch {
	case errors.Is(err, seal.ErrExpired):
		return store.ErrNotFound // its seal ran out a moment before its row
	case err != nil:
		if len(row) > 0 && row[0] == '{' {
			// Stored in the clear by an earlier release (or written by hand):
			// the sign-in in progress starts again.
			p.log.Warn("a stored "+kind+" record is not sealed (stored by an earlier release, or written into the store); refused",
				"row", key[:12])
		} else {
			p.log.Warn("a stored "+kind+" record does not open under the session keys: edited in the store, moved from another key, or sealed with a key no longer configured; refused",
				"row", key[:12])
		}
		return store.ErrNotFound
	}
	return nil
}

func (p *Provider) dropRecord(ctx context.Context, kind, id string) error {
	return p.opts.Store.RevokeSession(ctx, storeKey(kind, id))
}

// grantView is a code's request as the library builds tokens from it.
type grantView struct {
	req   authRequest
	id    identity
	grant string
	// kept: id is kept in the store already (written before the grant was
	// taken), and its tokens carry the stub.
	kept bool
}

var _ op.AuthRequest = (*grantView)(nil)

func (g *grantView) GetID() string                      { return g.grant }
func (g *grantView) GetACR() string                     { return "" }
func (g *grantView) GetAMR() []string                   { return []string{"fed"} } // federated: the connector's provider authenticated
func (g *grantView) GetAudience() []string              { return []string{g.req.ClientID} }
func (g *grantView) GetAuthTime() time.Time             { return time.Unix(g.id.AuthTime, 0) }
func (g *grantView) GetClientID() string                { return g.req.ClientID }
func (g *grantView) GetNonce() string                   { return g.req.Nonce }
func (g *grantView) GetRedirectURI() string             { return g.req.RedirectURI }
func (g *grantView) GetResponseType() oidc.ResponseType { return oidc.ResponseTypeCode }
func (g *grantView) GetResponseMode() oidc.ResponseMode { return oidc.ResponseMode(g.req.ResponseMode) }
func (g *grantView) GetScopes() []string                { return g.req.Scopes }
func (g *grantView) GetState() string                   { return g.req.State }
func (g *grantView) GetSubject() string                 { return g.id.Sub }
func (g *grantView) Done() bool                         { return true }
func (g *grantView) GetCodeChallenge() *oidc.CodeChallenge {
	if g.req.Challenge == "" {
		return nil
	}
	return &oidc.CodeChallenge{Challenge: g.req.Challenge, Method: oidc.CodeChallengeMethodS256}
}

// refreshView is a refresh token's grant as the library builds tokens from it.
// A refresh may ask for fewer scopes: current holds them, for this access and
// ID token only; the rotated refresh token keeps the grant's (RFC 6749 6).
type refreshView struct {
	rec     refreshRecord
	current []string
	// kept says rec.Identity is also kept in the store, renewed for this refresh.
	kept bool
}

var _ op.RefreshTokenRequest = (*refreshView)(nil)

func (r *refreshView) GetAMR() []string            { return []string{"fed"} }
func (r *refreshView) GetAudience() []string       { return []string{r.rec.Client} }
func (r *refreshView) GetAuthTime() time.Time      { return time.Unix(r.rec.Identity.AuthTime, 0) }
func (r *refreshView) GetClientID() string         { return r.rec.Client }
func (r *refreshView) GetSubject() string          { return r.rec.Identity.Sub }
func (r *refreshView) SetCurrentScopes(s []string) { r.current = s }
func (r *refreshView) GetScopes() []string {
	if r.current != nil {
		return r.current
	}
	return r.rec.Scopes
}

// isNotFound tells a missing record from a store that failed.
func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
