package oidcprovider

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/idplug/idplug/host/config"
	"github.com/idplug/idplug/host/store"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Access and refresh tokens are sealed records (session_keys), self-contained,
// and honoured only while their grant lives in the store: revoking the grant
// (a code exchanged twice, a refresh token used twice, revocation) ends every
// token of it on every replica.

// invalidToken is RFC 6750 3.1's error for an access token that is not
// (or no longer) good; the library names no such error.
const invalidToken = "invalid_token"

// Seal purposes: a token sealed as one kind never opens as another.
const (
	accessPurpose  = "oidc-access-token"
	refreshPurpose = "oidc-refresh-token"
)

type accessRecord struct {
	Grant    string   `json:"g"`
	Client   string   `json:"c"`
	Scopes   []string `json:"sc"`
	Identity identity `json:"u"`
}

type refreshRecord struct {
	Grant      string   `json:"g"`
	Generation int64    `json:"n"`
	Client     string   `json:"c"`
	Scopes     []string `json:"sc"`
	Identity   identity `json:"u"`
}

func (p *Provider) seal(purpose string, v any, ttl time.Duration) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return p.opts.Sealer().Seal(purpose, b, ttl)
}

// open fails for anything altered, expired, of another kind or not sealed here.
func (p *Provider) open(purpose, token string, v any) error {
	b, err := p.opts.Sealer().Open(purpose, token)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// sealedCrypto is the library's token codec: the library hands it
// "tokenID:subject", where the token id is already the sealed access record
// (which holds the subject), so the access token is that record as it is.
type sealedCrypto struct{ p *Provider }

func (c *sealedCrypto) Encrypt(s string) (string, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return "", errors.New("oidcprovider: only access tokens are encrypted")
	}
	var rec accessRecord
	if err := c.p.open(accessPurpose, s[:i], &rec); err != nil || rec.Identity.Sub != s[i+1:] {
		return "", errors.New("oidcprovider: not an access token of this provider")
	}
	return s[:i], nil
}

func (c *sealedCrypto) Decrypt(token string) (string, error) {
	var rec accessRecord
	if err := c.p.open(accessPurpose, token, &rec); err != nil {
		return "", err
	}
	return token + ":" + rec.Identity.Sub, nil
}

// maxTokenIdentity bounds the identity a token carries, as JSON. A larger one
// (a long list of groups, long profile fields: a mapping may yield 16 KiB)
// would make tokens longer than the seal takes, and than the 8 KiB headers
// many proxies pass: its grant keeps it in the store, and its tokens carry
// the subject alone.
const maxTokenIdentity = 3 << 10

// identityKind is the store record of a grant's identity too large for its tokens.
const identityKind = "identity"

// tokenIdentity is what the tokens of grant carry of id, for ttl: id itself
// when it is small, or else a stub, with id kept in the store for ttl
// (already kept, when a refresh renewed it before its rotation).
func (p *Provider) tokenIdentity(ctx context.Context, grant string, id identity, ttl time.Duration, kept bool) (identity, error) {
	stub := identity{Sub: id.Sub, Instance: id.Instance, Target: id.Target, Mapping: id.Mapping, Source: id.Source, Issued: id.Issued, Config: id.Config, AuthTime: id.AuthTime, AuthMs: id.AuthMs, Stored: true}
	if kept {
		return stub, nil
	}
	b, err := json.Marshal(id)
	if err != nil {
		return identity{}, err
	}
	if len(b) <= maxTokenIdentity {
		return id, nil
	}
	// Written again when the exchange is tried again after a failure, or its
	// code replayed: the store replaces a live record (never a revoked one),
	// and the grant, taken next, tells a replay.
	if err := p.putRecord(ctx, identityKind, grant, id, ttl); err != nil {
		return identity{}, err
	}
	return stub, nil
}

// tokensTTL is how long a grant, and the identity it may keep, live from its
// exchange or its last refresh: the longer of its tokens' lives, so that no
// token of it dies before its own expiry (an access token may outlive the
// refresh token issued with it).
func tokensTTL(cfg *config.Provider) time.Duration {
	return max(cfg.RefreshTokenTTL, cfg.AccessTokenTTL)
}

// fullIdentity is the identity a token of grant stands for: the one it
// carries, or the one its grant keeps in the store (store.ErrNotFound once
// the grant has ended).
func (p *Provider) fullIdentity(ctx context.Context, grant string, id identity) (identity, error) {
	if !id.Stored {
		return id, nil
	}
	var full identity
	if err := p.getRecord(ctx, identityKind, grant, &full); err != nil {
		return identity{}, err
	}
	if full.Sub != id.Sub || full.Stored {
		return identity{}, store.ErrNotFound
	}
	return full, nil
}

// endGrant revokes grant, and drops the identity it may keep in the store.
func (p *Provider) endGrant(ctx context.Context, grant string) error {
	if err := p.opts.Store.RevokeGrant(ctx, grant); err != nil {
		return err
	}
	return p.dropIdentity(ctx, grant)
}

// dropIdentity ends the identity record of an ended grant, when it has one:
// revoked, the purge takes it with the grant's row rather than at the
// grant's own expiry (weeks on), and a late write does not bring it back.
func (p *Provider) dropIdentity(ctx context.Context, grant string) error {
	return p.opts.Store.RevokeSession(ctx, storeKey(identityKind, grant))
}

// dropIdentities ends the identity records of grants the store ended (to keep
// a person's grants at a client in number, or on a replayed code or a reused
// refresh token): the purge takes them with the grants' rows.
// Most grants have none; a failure only leaves one to its own expiry, and
// the grant is ended either way.
func (p *Provider) dropIdentities(ctx context.Context, grants []string) {
	for _, g := range grants {
		if err := p.dropIdentity(ctx, g); err != nil {
			p.log.Warn("the identity record of an ended grant is left to its expiry", "error", err)
		}
	}
}

// lapsed says why a grant of clientID made through id's connector instance no
// longer holds: the instance is no longer configured, signs in at another
// provider now or maps profiles another way (the grant's claims were mapped
// the old way, and an allow rule added to lock a user out must reach the
// grants too), or the client is gone or may no longer use it, or it was
// signed in more than grant_ttl ago; "" while it holds. A reload builds the provider again, so its clients, and the
// instances it asks about, are the configuration's as it is now.
func (p *Provider) lapsed(clientID string, id identity) string {
	newer := id.Issued > p.built.UnixMilli()
	if id.Issued == 0 { // sealed by an earlier release: by its sign-in's time
		newer = id.AuthTime > p.built.Unix()
	}
	if newer && id.Config != "" && id.Config == p.configPrint() {
		// Issued under this same configuration by a replica that started
		// later: judged as this replica's own.
		newer = false
	}
	if newer {
		// Issued under a configuration newer than this one: another
		// replica's (a rolling update adding the connector), and this one's
		// word would end a good grant for good. A grant issued under an
		// older one is judged, also when it was signed in after this
		// configuration took effect: at a replica still on the old one, an
		// allow rule's lockout would otherwise pass it by.
		return ""
	}
	if max := p.opts.Config.GrantTTL; max > 0 {
		signedIn := id.AuthMs
		if signedIn == 0 {
			signedIn = id.AuthTime * 1000
		}
		if p.opts.Now().Sub(time.UnixMilli(signedIn)) > max {
			return "it was signed in more than grant_ttl ago (" + strings.TrimSuffix(strings.TrimSuffix(max.String(), "0s"), "0m") + ")"
		}
	}
	target, ok := p.opts.Targets(id.Instance)
	switch {
	case !ok:
		return "the connector it was made through is no longer configured"
	case id.Target != "" && id.Target != target:
		return "the connector it was made through signs in at another provider now"
	case id.Mapping != nil && p.opts.Mappings != nil && *id.Mapping != p.opts.Mappings(id.Instance):
		return "the connector it was made through maps profiles another way now"
	}
	if id.Source != "" && p.opts.Sources != nil {
		// Pointed at another provider (token endpoint or issuer, client
		// id) or plugin under the same target: the grant's user was the
		// old provider's, and its sub now names the new one's user of
		// the same id. Browser sessions end alike (connectorServes).
		if now, unnamed, ok := p.opts.Sources(id.Instance); ok && id.Source != now && id.Source != unnamed {
			return "the connector it was made through signs in at another provider now"
		}
	}
	if p.opts.RemovedAt != nil {
		// Removed and configured again between two uses of the grant. A
		// token sealed before the sign-in's millisecond was kept: the whole
		// second of its sign-in before the removal.
		signedIn := id.AuthMs
		if signedIn == 0 {
			signedIn = id.AuthTime*1000 + 999
		}
		if at, ok := p.opts.RemovedAt(id.Instance); ok && signedIn <= at {
			return "the connector it was made through was removed since"
		}
	}
	c, ok := p.clients[clientID]
	switch {
	case !ok:
		return "its client is no longer configured"
	case !c.cfg.AllowsConnector(id.Instance):
		return "its client may no longer use the connector it was made through"
	}
	return ""
}

// endLapsed ends a grant that lapsed (why), and returns refusal saying so.
func (p *Provider) endLapsed(ctx context.Context, grant, clientID, why string, refusal *oidc.Error) error {
	if err := p.endGrant(ctx, grant); err != nil {
		return oidcError(err, "the store cannot be reached")
	}
	p.log.Info("a grant ended with the configuration it was made under", "client", clientID, "why", why)
	return refusal.WithDescription("the grant has ended: %s", why)
}

// accessToken seals an access token of grant for the request's client and scopes.
func (p *Provider) accessToken(grant string, req op.TokenRequest, id identity, clientID string) (string, time.Time, error) {
	ttl := p.opts.Config.AccessTokenTTL
	tok, err := p.seal(accessPurpose, accessRecord{Grant: grant, Client: clientID, Scopes: req.GetScopes(), Identity: id}, ttl)
	return tok, p.opts.Now().Add(ttl), err
}

// liveAccess opens an access token and checks that its grant still lives.
func (p *Provider) liveAccess(ctx context.Context, token string) (accessRecord, error) {
	var rec accessRecord
	if err := p.open(accessPurpose, token, &rec); err != nil {
		return rec, oidc.ErrAccessDenied().WithDescription("access token invalid")
	}
	if _, _, err := p.opts.Store.Grant(ctx, rec.Grant, p.opts.Now()); err != nil {
		if isNotFound(err) {
			return rec, oidc.ErrAccessDenied().WithDescription("access token revoked")
		}
		return rec, oidcError(err, "the store cannot be reached")
	}
	// After the grant's read: a lapsed grant is ended once, and its tokens
	// then find it revoked.
	if why := p.lapsed(rec.Client, rec.Identity); why != "" {
		return rec, p.endLapsed(ctx, rec.Grant, rec.Client, why, oidc.ErrAccessDenied())
	}
	id, err := p.fullIdentity(ctx, rec.Grant, rec.Identity)
	if err != nil {
		if isNotFound(err) {
			return rec, oidc.ErrAccessDenied().WithDescription("access token revoked")
		}
		return rec, oidcError(err, "the store cannot be reached")
	}
	rec.Identity = id
	return rec, nil
}

// CodeExchange turns a code into tokens, once. Unlike the library's own, it
// checks PKCE on every exchange whose request had a challenge, and takes the
// code's grant in the store before anything is issued: a second exchange finds
// the grant taken, and revokes it with every token the first one got (RFC 6749
// 4.1.2).
func (s *server) CodeExchange(ctx context.Context, r *op.ClientRequest[oidc.AccessTokenRequest]) (*op.Response, error) {
	p := s.p
	var c code
	if err := p.getRecord(ctx, "code", r.Data.Code, &c); err != nil {
		if isNotFound(err) {
			return nil, oidc.ErrInvalidGrant().WithDescription("the code is invalid, used or expired")
		}
		return nil, oidcError(err, "the store cannot be reached")
	}
	if r.Client.GetID() != c.Request.ClientID {
		// Answered as a code that does not exist: the other client (or
		// anyone, as a public client) must not learn that it is live.
		p.log.Warn("a client sent another client's authorization code", "client", r.Client.GetID(), "issued_to", c.Request.ClientID)
		return nil, oidc.ErrInvalidGrant().WithDescription("the code is invalid, used or expired")
	}
	if r.Data.RedirectURI != c.Request.RedirectURI {
		return nil, oidc.ErrInvalidGrant().WithDescription("redirect_uri is not the one of the authorization request")
	}
	challenge := (&grantView{req: c.Request}).GetCodeChallenge()
	if challenge == nil && r.Client.AuthMethod() == oidc.AuthMethodNone {
		// Requested while the client was confidential (a public one must
		// send a challenge): made public by a reload since, it would hand
		// the tokens to whoever intercepted the code, with no secret.
		return nil, oidc.ErrInvalidGrant().WithDescription("the authorization request had no PKCE challenge, which a public client must send")
	}
	if challenge != nil || r.Data.CodeVerifier != "" {
		if err := op.AuthorizeCodeChallenge(r.Data.CodeVerifier, challenge); err != nil {
			return nil, err
		}
	}
	// What may fail on the store or the keys comes before the grant is
	// taken: a 503 after it would leave the client a spent code, and its
	// retry would be taken for a replay, which ends the grant.
	offline := slices.Contains(c.Request.Scopes, oidc.ScopeOfflineAccess)
	key, err := p.keys.signing(ctx, clientAlg(withClientAlg(ctx, r.Client)))
	if err != nil {
		return nil, oidcError(err, "no signing key")
	}
	ttl := p.opts.Config.AccessTokenTTL
	if offline {
		ttl = tokensTTL(p.opts.Config)
	}
	tokID, err := p.tokenIdentity(ctx, c.Grant, c.Identity, ttl, false)
	if err != nil {
		return nil, oidcError(err, "the store cannot be reached")
	}
	ended, err := p.opts.Store.PutGrant(ctx, c.Grant, c.Request.ClientID, c.Identity.Sub, p.opts.Now().Add(tokensTTL(p.opts.Config)))
	if err == nil {
		p.dropIdentities(ctx, ended)
	}
	switch {
	case errors.Is(err, store.ErrUsed):
		// Revoked by the same write that found it taken.
		p.event("replayed_code")
		p.log.Warn("an authorization code came back after its exchange; its grant is revoked", "client", c.Request.ClientID)
		p.dropIdentities(ctx, []string{c.Grant})
		return nil, oidc.ErrInvalidGrant().WithDescription("the code is invalid, used or expired")
	case err != nil:
		return nil, oidcError(err, "the store cannot be reached")
	}
	// A reload between the sign-in and the exchange: checked once the grant
	// is taken, so that a replayed code still revokes the first exchange's.
	if why := p.lapsed(c.Request.ClientID, c.Identity); why != "" {
		return nil, p.endLapsed(ctx, c.Grant, c.Request.ClientID, why, oidc.ErrInvalidGrant())
	}
	if client, err := p.client(c.Request.ClientID); err != nil || checkLoopbackMatch(client, c.Request.RedirectURI) != nil {
		// Issued before a reload took the URI off the client: whoever holds
		// it now does not get tokens with it.
		return nil, p.endLapsed(ctx, c.Grant, c.Request.ClientID, "its redirect_uri is no longer registered for the client", oidc.ErrInvalidGrant())
	}
	// The code's record stays until it expires: a replay within that minute
	// must find it, to revoke what the first exchange got.
	view := &grantView{req: c.Request, id: c.Identity, grant: c.Grant, kept: tokID.Stored}
	resp, err := p.tokenResponse(ctx, r.Client, key, view, view.id, c.Request.Nonce, offline)
	if err != nil {
		return nil, err
	}
	p.event("token")
	return noStore(resp), nil
}

// RefreshToken rotates: each refresh token is good once. One that comes back
// after its successor was issued is a stolen copy or a replay, and ends the
// whole grant (RFC 9700 4.14.2).
func (s *server) RefreshToken(ctx context.Context, r *op.ClientRequest[oidc.RefreshTokenRequest]) (*op.Response, error) {
	p := s.p
	var rec refreshRecord
	if err := p.open(refreshPurpose, r.Data.RefreshToken, &rec); err != nil {
		return nil, oidc.ErrInvalidGrant().WithDescription("the refresh token is invalid or expired")
	}
	if r.Client.GetID() != rec.Client {
		p.log.Warn("a client sent another client's refresh token", "client", r.Client.GetID(), "issued_to", rec.Client)
		return nil, oidc.ErrInvalidGrant().WithDescription("the refresh token is invalid or expired")
	}
	// A reload may have removed the grant's connector, or the client's right to it.
	if why := p.lapsed(rec.Client, rec.Identity); why != "" {
		return nil, p.endLapsed(ctx, rec.Grant, rec.Client, why, oidc.ErrInvalidGrant())
	}
	view := &refreshView{rec: rec}
	if err := op.ValidateRefreshTokenScopes(r.Data.Scopes, view); err != nil {
		return nil, err
	}
	// The whole identity, before the token is spent: the new ID token
	// carries it, and one kept in the store is renewed for the grant's new
	// life here, before the rotation: a write that failed after it would
	// leave the client a spent refresh token, and its retry would revoke the
	// grant as a replay.
	id, err := p.fullIdentity(ctx, rec.Grant, rec.Identity)
	if err == nil && rec.Identity.Stored {
		err = p.renewRecord(ctx, identityKind, rec.Grant, id, tokensTTL(p.opts.Config))
	}
	switch {
	case isNotFound(err):
		return nil, oidc.ErrInvalidGrant().WithDescription("the grant was revoked or has expired")
	case err != nil:
		return nil, oidcError(err, "the store cannot be reached")
	}
	// A grant sealed by an earlier release carries no mapping: it takes the
	// one its connector has now, so that the next change of it ends the
	// grant (its claims stay as they were mapped then).
	if id.Mapping == nil && p.opts.Mappings != nil {
		mapping := p.opts.Mappings(id.Instance)
		id.Mapping = &mapping
	}
	view.rec.Identity, view.kept = id, rec.Identity.Stored
	if !view.kept {
		// A token that carried its identity whole may now need it kept in
		// the store (the mapping added above): written before the token is
		// spent too.
		tokID, err := p.tokenIdentity(ctx, rec.Grant, id, tokensTTL(p.opts.Config), false)
		if err != nil {
			return nil, oidcError(err, "the store cannot be reached")
		}
		view.kept = tokID.Stored
	}
	// The signing key too: read after the rotation, a failure would leave a
	// spent refresh token, whose retry ends the grant as a reuse.
	key, err := p.keys.signing(ctx, clientAlg(withClientAlg(ctx, r.Client)))
	if err != nil {
		return nil, oidcError(err, "no signing key")
	}
	err = p.opts.Store.RotateGrant(ctx, rec.Grant, rec.Generation, p.opts.Now().Add(tokensTTL(p.opts.Config)))
	switch {
	case errors.Is(err, store.ErrUsed):
		// Revoked by the same write that found the reuse.
		p.event("reused_refresh_token")
		p.log.Warn("a refresh token was used twice; its grant is revoked", "client", rec.Client)
		p.dropIdentities(ctx, []string{rec.Grant})
		return nil, oidc.ErrInvalidGrant().WithDescription("the refresh token was used before; the grant is revoked")
	case isNotFound(err):
		return nil, oidc.ErrInvalidGrant().WithDescription("the grant was revoked or has expired")
	case err != nil:
		return nil, oidcError(err, "the store cannot be reached")
	}
	view.rec.Generation++
	resp, err := p.tokenResponse(ctx, r.Client, key, view, view.rec.Identity, "", true)
	if err != nil {
		return nil, err
	}
	p.event("refresh")
	return noStore(resp), nil
}

// Revocation answers a revocation the store could not record 503 (RFC 7009
// 2.2.1), with Retry-After: the client then keeps the token and tries again.
// The library answers every server error 500, after which an app signing a
// person out drops its tokens, and the grant stays live for whoever copied
// them.
func (s *server) Revocation(ctx context.Context, r *op.ClientRequest[oidc.RevocationRequest]) (*op.Response, error) {
	resp, err := s.LegacyServer.Revocation(ctx, r)
	if err != nil && errors.Is(err, store.ErrUnavailable) {
		return nil, op.NewStatusError(oidc.ErrServerError().WithParent(err).WithDescription("the revocation could not be recorded; try again shortly"),
			http.StatusServiceUnavailable)
	}
	return resp, err
}

// noStore is a token response that no cache may keep (RFC 6749 5.1, OpenID
// Connect Core 3.1.3.3): it carries the tokens themselves.
func noStore(resp *oidc.AccessTokenResponse) *op.Response {
	r := op.NewResponse(resp)
	r.Header.Set("Cache-Control", "no-store")
	r.Header.Set("Pragma", "no-cache")
	return r
}

// JWTProfile: the jwt-bearer grant is not offered. The library would otherwise
// mint tokens for any assertion signed with a client's key.
func (s *server) JWTProfile(context.Context, *op.Request[oidc.JWTProfileGrantRequest]) (*op.Response, error) {
	return nil, oidc.ErrUnsupportedGrantType().WithDescription("only authorization_code and refresh_token")
}

// UserInfo answers for a live access token only. A token that is not one is
// RFC 6750's invalid_token, with a 401 (its WWW-Authenticate is bearerChallenge's).
func (s *server) UserInfo(ctx context.Context, r *op.Request[oidc.UserInfoRequest]) (*op.Response, error) {
	rec, err := s.p.liveAccess(ctx, r.Data.AccessToken)
	if err != nil {
		var oe *oidc.Error
		if errors.As(err, &oe) && oe.ErrorType == oidc.AccessDenied {
			return nil, op.NewStatusError(&oidc.Error{ErrorType: invalidToken, Description: oe.Description}, http.StatusUnauthorized)
		}
		return nil, err
	}
	info := new(oidc.UserInfo)
	rec.Identity.fill(info, rec.Scopes)
	return op.NewResponse(info), nil
}

// Introspection and the other grants are not offered.
func (s *server) Introspect(context.Context, *op.Request[op.IntrospectionRequest]) (*op.Response, error) {
	return nil, op.NewStatusError(oidc.ErrUnsupportedGrantType(), 404)
}

// tokenResponse issues the tokens of a grant: an access token, the grant's
// refresh token when it has one (offline_access), and the ID token, signed
// once with the client's algorithm. It builds the ID token itself rather than
// through the library, whose ID tokens always carry aud as a list: OpenID
// Connect allows a string for one audience, and some relying parties (Logto's
// SDKs) take nothing else.
func (p *Provider) tokenResponse(ctx context.Context, c op.Client, key op.SigningKey, req op.TokenRequest, id identity, nonce string, withRefresh bool) (*oidc.AccessTokenResponse, error) {
	st := &storage{p: p}
	var access, refresh string
	var exp time.Time
	var err error
	if withRefresh {
		access, refresh, exp, err = st.CreateAccessAndRefreshTokens(ctx, req, "")
	} else {
		access, exp, err = st.CreateAccessToken(ctx, req)
	}
	if err != nil {
		return nil, oidcError(err, "the tokens could not be issued")
	}
	idToken, err := p.idToken(key, c.GetID(), req.GetScopes(), id, nonce, access)
	if err != nil {
		return nil, oidcError(err, "the ID token could not be signed")
	}
	return &oidc.AccessTokenResponse{
		AccessToken: access, IDToken: idToken, RefreshToken: refresh, TokenType: oidc.BearerToken,
		ExpiresIn: uint64(exp.Sub(p.opts.Now()).Round(time.Second).Seconds()), Scope: req.GetScopes(),
	}, nil
}

// idToken signs the ID token of a grant for client (OpenID Connect Core 2 and
// 3.1.3.6): iss, sub, aud, exp, iat, auth_time, nonce, amr, azp, at_hash, and
// the claims the scopes release.
func (p *Provider) idToken(key op.SigningKey, clientID string, scopes []string, id identity, nonce, accessToken string) (string, error) {
	now := p.opts.Now()
	claims := map[string]any{
		"iss": p.opts.Config.Issuer, "sub": id.Sub, "aud": clientID, "azp": clientID,
		"iat": now.Unix(), "exp": now.Add(p.opts.Config.AccessTokenTTL).Unix(),
		"auth_time": id.AuthTime, "amr": []string{"fed"},
	}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	atHash, err := oidc.ClaimHash(accessToken, key.SignatureAlgorithm())
	if err != nil {
		return "", err
	}
	claims["at_hash"] = atHash
	info := new(oidc.UserInfo)
	id.fill(info, scopes)
	b, err := json.Marshal(info)
	if err != nil {
		return "", err
	}
	var released map[string]any
	if err := json.Unmarshal(b, &released); err != nil {
		return "", err
	}
	for k, v := range released {
		if _, set := claims[k]; !set {
			claims[k] = v
		}
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: key.SignatureAlgorithm(), Key: &jose.JSONWebKey{Key: key.Key(), KeyID: key.ID()}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}
