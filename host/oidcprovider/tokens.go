package oidcprovider

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/idplug/idplug/host/store"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Access and refresh tokens are sealed records (session_keys), self-contained,
// and honoured only while their grant lives in the store: revoking the grant
// (a code exchanged twice, a refresh token used twice, revocation) ends every
// token of it on every replica.

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
		return nil, oidc.ErrInvalidGrant().WithDescription("the code was issued to another client")
	}
	if r.Data.RedirectURI != c.Request.RedirectURI {
		return nil, oidc.ErrInvalidGrant().WithDescription("redirect_uri is not the one of the authorization request")
	}
	challenge := (&grantView{req: c.Request}).GetCodeChallenge()
	if challenge != nil || r.Data.CodeVerifier != "" || r.Client.AuthMethod() == oidc.AuthMethodNone {
		if err := op.AuthorizeCodeChallenge(r.Data.CodeVerifier, challenge); err != nil {
			return nil, err
		}
	}
	err := p.opts.Store.PutGrant(ctx, c.Grant, c.Request.ClientID, p.opts.Now().Add(p.opts.Config.RefreshTokenTTL))
	switch {
	case errors.Is(err, store.ErrUsed):
		p.event("replayed_code")
		p.log.Warn("an authorization code came back after its exchange; its grant is revoked", "client", c.Request.ClientID)
		if err := p.opts.Store.RevokeGrant(ctx, c.Grant); err != nil {
			return nil, oidcError(err, "the store cannot be reached")
		}
		return nil, oidc.ErrInvalidGrant().WithDescription("the code is invalid, used or expired")
	case err != nil:
		return nil, oidcError(err, "the store cannot be reached")
	}
	// The code's record stays until it expires: a replay within that minute
	// must find it, to revoke what the first exchange got.
	ctx = withClientAlg(ctx, r.Client)
	resp, err := op.CreateTokenResponse(ctx, &grantView{req: c.Request, id: c.Identity, grant: c.Grant}, r.Client, p.op, true, r.Data.Code, "")
	if err != nil {
		return nil, err
	}
	if resp.IDToken, err = p.singleAudience(ctx, resp.IDToken); err != nil {
		return nil, oidcError(err, "the ID token could not be signed")
	}
	p.event("token")
	return op.NewResponse(resp), nil
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
		return nil, oidc.ErrInvalidGrant().WithDescription("the refresh token was issued to another client")
	}
	view := &refreshView{rec: rec}
	if err := op.ValidateRefreshTokenScopes(r.Data.Scopes, view); err != nil {
		return nil, err
	}
	err := p.opts.Store.RotateGrant(ctx, rec.Grant, rec.Generation, p.opts.Now().Add(p.opts.Config.RefreshTokenTTL))
	switch {
	case errors.Is(err, store.ErrUsed):
		p.event("reused_refresh_token")
		p.log.Warn("a refresh token was used twice; its grant is revoked", "client", rec.Client)
		if err := p.opts.Store.RevokeGrant(ctx, rec.Grant); err != nil {
			return nil, oidcError(err, "the store cannot be reached")
		}
		return nil, oidc.ErrInvalidGrant().WithDescription("the refresh token was used before; the grant is revoked")
	case isNotFound(err):
		return nil, oidc.ErrInvalidGrant().WithDescription("the grant was revoked or has expired")
	case err != nil:
		return nil, oidcError(err, "the store cannot be reached")
	}
	view.rec.Generation++
	ctx = withClientAlg(ctx, r.Client)
	resp, err := op.CreateTokenResponse(ctx, view, r.Client, p.op, true, "", r.Data.RefreshToken)
	if err != nil {
		return nil, err
	}
	if resp.IDToken, err = p.singleAudience(ctx, resp.IDToken); err != nil {
		return nil, oidcError(err, "the ID token could not be signed")
	}
	p.event("refresh")
	return op.NewResponse(resp), nil
}

// JWTProfile: the jwt-bearer grant is not offered. The library would otherwise
// mint tokens for any assertion signed with a client's key.
func (s *server) JWTProfile(context.Context, *op.Request[oidc.JWTProfileGrantRequest]) (*op.Response, error) {
	return nil, oidc.ErrUnsupportedGrantType().WithDescription("only authorization_code and refresh_token")
}

// UserInfo answers for a live access token only.
func (s *server) UserInfo(ctx context.Context, r *op.Request[oidc.UserInfoRequest]) (*op.Response, error) {
	rec, err := s.p.liveAccess(ctx, r.Data.AccessToken)
	if err != nil {
		var oe *oidc.Error
		if errors.As(err, &oe) && oe.ErrorType == oidc.AccessDenied {
			return nil, op.NewStatusError(oe, 401)
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

// singleAudience re-signs an ID token whose aud is a list of one as a plain
// string (OpenID Connect Core 2: either form; some SDKs, like Logto's, take
// the string only).
func (p *Provider) singleAudience(ctx context.Context, idToken string) (string, error) {
	parts := strings.Split(idToken, ".")
	if idToken == "" || len(parts) != 3 {
		return idToken, nil
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", err
	}
	var claims map[string]json.RawMessage
	if err := json.Unmarshal(payload, &claims); err != nil {
		return "", err
	}
	var aud []string
	if json.Unmarshal(claims["aud"], &aud) != nil || len(aud) != 1 {
		return idToken, nil
	}
	claims["aud"], _ = json.Marshal(aud[0])
	payload, err = json.Marshal(claims)
	if err != nil {
		return "", err
	}
	key, err := p.keys.signing(ctx, clientAlg(ctx))
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
