package oidcprovider

import (
	"context"
	"errors"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// storage is the library's storage interface over the provider. The flows the
// provider runs itself (authorization, code exchange, refresh, end session)
// never reach the methods that would stand for them here; those refuse.
type storage struct{ p *Provider }

var (
	_ op.Storage                   = (*storage)(nil)
	_ op.CanSetUserinfoFromRequest = (*storage)(nil)
)

var errNotHere = errors.New("oidcprovider: this step is the provider's own")

func (s *storage) CreateAuthRequest(context.Context, *oidc.AuthRequest, string) (op.AuthRequest, error) {
	return nil, errNotHere
}
func (s *storage) AuthRequestByID(context.Context, string) (op.AuthRequest, error) {
	return nil, errNotHere
}
func (s *storage) AuthRequestByCode(context.Context, string) (op.AuthRequest, error) {
	return nil, errNotHere
}
func (s *storage) SaveAuthCode(context.Context, string, string) error { return errNotHere }

// DeleteAuthRequest: the code's record goes at its exchange.
func (s *storage) DeleteAuthRequest(context.Context, string) error { return nil }

// CreateAccessToken issues the access token of a code without offline_access.
func (s *storage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	g, ok := req.(*grantView)
	if !ok {
		return "", time.Time{}, errNotHere
	}
	id, err := s.p.tokenIdentity(ctx, g.grant, g.id, s.p.opts.Config.AccessTokenTTL, g.kept)
	if err != nil {
		return "", time.Time{}, err
	}
	return s.p.accessToken(g.grant, req, id, g.req.ClientID)
}

// CreateAccessAndRefreshTokens issues an access token and the refresh token of
// the grant's current generation: the first (0) at the code's exchange, the
// next after each rotation (the generation was moved in the store already).
func (s *storage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, _ string) (string, string, time.Time, error) {
	var rec refreshRecord
	var kept bool
	switch r := req.(type) {
	case *grantView:
		rec, kept = refreshRecord{Grant: r.grant, Client: r.req.ClientID, Scopes: r.req.Scopes, Identity: r.id}, r.kept
	case *refreshView:
		rec, kept = r.rec, r.kept
	default:
		return "", "", time.Time{}, errNotHere
	}
	var err error
	rec.Identity, err = s.p.tokenIdentity(ctx, rec.Grant, rec.Identity, tokensTTL(s.p.opts.Config), kept)
	if err != nil {
		return "", "", time.Time{}, err
	}
	access, exp, err := s.p.accessToken(rec.Grant, req, rec.Identity, rec.Client)
	if err != nil {
		return "", "", time.Time{}, err
	}
	refresh, err := s.p.seal(refreshPurpose, rec, s.p.opts.Config.RefreshTokenTTL)
	return access, refresh, exp, err
}

func (s *storage) TokenRequestByRefreshToken(context.Context, string) (op.RefreshTokenRequest, error) {
	return nil, errNotHere
}

func (s *storage) TerminateSession(context.Context, string, string) error { return errNotHere }

// GetRefreshTokenInfo recognizes a refresh token of this client, for
// revocation. The token id it hands back is the sealed token itself: the
// library passes any other token to RevokeToken as it came, so an id of a
// form of its own ("grant:<client>:<id>") could be sent raw by anyone.
func (s *storage) GetRefreshTokenInfo(ctx context.Context, clientID, token string) (string, string, error) {
	var rec refreshRecord
	if err := s.p.open(refreshPurpose, token, &rec); err != nil {
		return "", "", op.ErrInvalidRefreshToken
	}
	return rec.Identity.Sub, token, nil
}

// RevokeToken ends the grant of a refresh or access token (RFC 7009 2.1: the
// grant goes with either). A token of another client is refused; an unknown
// one is not an error.
func (s *storage) RevokeToken(ctx context.Context, token, _, clientID string) *oidc.Error {
	var owner, grant string
	var refresh refreshRecord
	var access accessRecord
	switch {
	case s.p.open(refreshPurpose, token, &refresh) == nil:
		owner, grant = refresh.Client, refresh.Grant
	case s.p.open(accessPurpose, token, &access) == nil:
		owner, grant = access.Client, access.Grant
	default:
		return nil // not ours, or expired: nothing to revoke
	}
	if owner != clientID {
		return oidc.ErrUnauthorizedClient().WithDescription("the token was issued to another client")
	}
	if err := s.p.endGrant(ctx, grant); err != nil {
		// Answered 503 by server.Revocation when the store is away.
		return oidc.ErrServerError().WithParent(err).WithDescription("the revocation could not be recorded; try again shortly")
	}
	s.p.event("revoked")
	return nil
}

func (s *storage) SigningKey(ctx context.Context) (op.SigningKey, error) {
	k, err := s.p.keys.signing(ctx, clientAlg(ctx))
	if err != nil {
		return nil, s.opaque(err, "the signing keys cannot be read")
	}
	return k, nil
}

// opaque is err as the library may answer it to anyone (an error_description
// of server_error): the store's own words name the database, its user and its
// address, so they go to the log and the answer says what failed, as /readyz
// does.
func (s *storage) opaque(err error, what string) error {
	s.p.log.Warn(what, "error", err)
	return oidc.ErrServerError().WithDescription("%s", what)
}

func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256, jose.ES256}, nil
}

func (s *storage) KeySet(ctx context.Context) ([]op.Key, error) {
	keys, err := s.p.keys.published(ctx)
	if err != nil {
		return nil, s.opaque(err, "the signing keys cannot be read")
	}
	return keys, nil
}

func (s *storage) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	c, err := s.p.client(id)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (s *storage) AuthorizeClientIDSecret(_ context.Context, id, secret string) error {
	c, err := s.p.client(id)
	if err != nil || !c.checkSecret(secret) {
		return oidc.ErrInvalidClient().WithDescription("client authentication failed")
	}
	return nil
}

// SetUserinfoFromScopes: the claims come from the request (SetUserinfoFromRequest).
func (s *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest puts the grant's identity into the ID token.
func (s *storage) SetUserinfoFromRequest(_ context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	switch r := req.(type) {
	case *grantView:
		r.id.fill(info, scopes)
	case *refreshView:
		r.rec.Identity.fill(info, scopes)
	default:
		return errNotHere
	}
	return nil
}

func (s *storage) SetUserinfoFromToken(ctx context.Context, info *oidc.UserInfo, tokenID, _, _ string) error {
	rec, err := s.p.liveAccess(ctx, tokenID)
	if err != nil {
		return err
	}
	rec.Identity.fill(info, rec.Scopes)
	return nil
}

func (s *storage) SetIntrospectionFromToken(context.Context, *oidc.IntrospectionResponse, string, string, string) error {
	return errNotHere
}

func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

// GetKeyByIDAndClientID gives a private_key_jwt client's key.
func (s *storage) GetKeyByIDAndClientID(_ context.Context, kid, clientID string) (*jose.JSONWebKey, error) {
	c, err := s.p.client(clientID)
	if err != nil {
		return nil, err
	}
	if c.cfg.AuthMethod != "private_key_jwt" {
		return nil, oidc.ErrInvalidClient().WithDescription("this client does not authenticate with a key")
	}
	return c.key(kid)
}

// ValidateJWTProfileScopes: the jwt-bearer grant is not offered.
func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, oidc.ErrUnsupportedGrantType()
}

// Health answers {issuer}/ready, which anyone may ask: the failure is not
// logged here (every request would log it; /readyz and the store's own calls
// say it), and its words stay in the store.
func (s *storage) Health(ctx context.Context) error {
	if err := s.p.Ready(ctx); err != nil {
		return oidc.ErrServerError().WithDescription("the store cannot be reached")
	}
	return nil
}
