package oidcprovider

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/idplug/idplug/host/store"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// VerifyClient authenticates a client at the token and revocation endpoints
// with the method it registered, and no other: a client_secret_basic client
// that sends its secret in the body (or the reverse) is refused, as is a
// private_key_jwt client that sends a secret. A private_key_jwt assertion is
// good once (its jti is kept until it expires).
func (s *server) VerifyClient(ctx context.Context, r *op.Request[op.ClientCredentials]) (op.Client, error) {
	p := s.p
	if oidc.GrantType(r.Form.Get("grant_type")) == oidc.GrantTypeClientCredentials {
		return nil, oidc.ErrUnsupportedGrantType().WithDescription("only authorization_code and refresh_token")
	}
	if r.Data.ClientAssertionType == oidc.ClientAssertionTypeJWTAssertion || r.Data.ClientAssertion != "" {
		return p.verifyAssertion(ctx, r.Data.ClientAssertion, r.Data.ClientID)
	}
	c, err := p.client(r.Data.ClientID)
	if err != nil {
		return nil, oidc.ErrInvalidClient().WithDescription("client authentication failed")
	}
	basic := strings.HasPrefix(r.Header.Get("Authorization"), "Basic ")
	inBody := r.PostForm.Get("client_secret") != ""
	switch c.cfg.AuthMethod {
	case string(oidc.AuthMethodNone):
		if basic || inBody {
			return nil, oidc.ErrInvalidClient().WithDescription("a public client sends no secret")
		}
		return c, nil
	case string(oidc.AuthMethodPrivateKeyJWT):
		return nil, oidc.ErrInvalidClient().WithDescription("this client authenticates with private_key_jwt")
	case string(oidc.AuthMethodBasic):
		if !basic || inBody {
			return nil, oidc.ErrInvalidClient().WithDescription("this client authenticates with client_secret_basic")
		}
	case string(oidc.AuthMethodPost):
		if basic || !inBody {
			return nil, oidc.ErrInvalidClient().WithDescription("this client authenticates with client_secret_post")
		}
	}
	if !c.checkSecret(r.Data.ClientSecret) {
		return nil, oidc.ErrInvalidClient().WithDescription("client authentication failed")
	}
	return c, nil
}

// verifyAssertion checks a private_key_jwt assertion (RFC 7523 3) with the
// library (signature by the client's key, iss = sub = client, aud = the
// issuer, expiry), then spends its jti.
func (p *Provider) verifyAssertion(ctx context.Context, assertion, clientID string) (op.Client, error) {
	if len(assertion) > 16<<10 {
		return nil, oidc.ErrInvalidClient().WithDescription("client_assertion is too long")
	}
	c, err := op.AuthorizePrivateJWTKey(ctx, assertion, p.op)
	if err != nil {
		return nil, oidc.ErrInvalidClient().WithDescription("client_assertion is not valid")
	}
	if clientID != "" && clientID != c.GetID() {
		return nil, oidc.ErrInvalidClient().WithDescription("client_id is not the assertion's issuer")
	}
	claims, err := unverifiedClaims(assertion)
	if err != nil || claims.ID == "" {
		return nil, oidc.ErrInvalidClient().WithDescription("client_assertion must carry a jti")
	}
	exp := time.Unix(claims.Expiry, 0)
	if exp.Sub(p.opts.Now()) > time.Hour {
		return nil, oidc.ErrInvalidClient().WithDescription("client_assertion must expire within an hour")
	}
	err = p.opts.Store.ConsumeFlow(ctx, storeKey("assertion", c.GetID()+"\x00"+claims.ID), exp)
	switch {
	case errors.Is(err, store.ErrUsed):
		p.event("replayed_assertion")
		return nil, oidc.ErrInvalidClient().WithDescription("client_assertion was used before")
	case err != nil:
		return nil, oidcError(err, "the store cannot be reached")
	}
	return c, nil
}

// unverifiedClaims reads the claims of an assertion the library verified.
func unverifiedClaims(jwt string) (struct {
	ID     string `json:"jti"`
	Expiry int64  `json:"exp"`
}, error) {
	var claims struct {
		ID     string `json:"jti"`
		Expiry int64  `json:"exp"`
	}
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return claims, errors.New("not a compact JWS")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return claims, err
	}
	return claims, json.Unmarshal(b, &claims)
}
