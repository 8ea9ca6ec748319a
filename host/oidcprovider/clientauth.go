package oidcprovider

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/idplug/idplug/host/store"
	"github.com/idplug/idplug/internal/printable"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// VerifyClient authenticates a client at the token and revocation endpoints
// with the method it registered, and no other: a client_secret_basic client
// that sends its secret in the body (or the reverse) is refused, as is a
// private_key_jwt client that sends a secret. A private_key_jwt assertion is
// good once (its jti is kept until it expires).
func (s *server) VerifyClient(ctx context.Context, r *op.Request[op.ClientCredentials]) (op.Client, error) {
	c, err := s.verifyClient(ctx, r)
	var oe *oidc.Error
	if errors.As(err, &oe) && oe.ErrorType == oidc.InvalidClient {
		// RFC 6749 5.2: 401, with a challenge when the client tried the
		// Authorization header (limitTokenRequests adds it).
		return nil, op.NewStatusError(oe, http.StatusUnauthorized)
	}
	return c, err
}

func (s *server) verifyClient(ctx context.Context, r *op.Request[op.ClientCredentials]) (op.Client, error) {
	p := s.p
	// Any grant but these two is unsupported here (RFC 6749 5.2), whoever
	// asks: the library answered device_code and token-exchange as grants this
	// client may not use (unauthorized_client). No grant_type: the revocation
	// endpoint.
	switch gt := oidc.GrantType(r.Form.Get("grant_type")); gt {
	case "", oidc.GrantTypeCode, oidc.GrantTypeRefreshToken:
	default:
		return nil, oidc.ErrUnsupportedGrantType().WithDescription("only authorization_code and refresh_token")
	}
	if r.Data.ClientAssertionType == oidc.ClientAssertionTypeJWTAssertion || r.Data.ClientAssertion != "" {
		return p.verifyAssertion(ctx, r.Data.ClientAssertion, r.Data.ClientID)
	}
	c, err := p.client(r.Data.ClientID)
	if err != nil {
		return nil, oidc.ErrInvalidClient().WithDescription("client authentication failed")
	}
	basic := isBasic(r.Header.Get("Authorization"))
	// r.Form, not r.PostForm: the library hands this request no PostForm
	// (the token and revocation endpoints take no query: postOnly).
	inBody := r.Form.Get("client_secret") != ""
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

// verifyAssertion checks a private_key_jwt assertion (RFC 7523 3), then
// spends its jti. It is signed with an algorithm discovery names (RS256,
// ES256), by the client's key and with that key's alg when the key names
// one; iss and sub are the client; aud is this provider's issuer or its
// token endpoint's URL (OpenID Connect Core 9 says the latter SHOULD be
// used), and nothing else beside it (draft-ietf-oauth-rfc7523bis: an
// assertion made out to another server too could be replayed here by it);
// exp within the hour; nbf and iat, both optional, not in the future. Not
// the library's VerifyJWTAssertion: it takes PS256 whatever the key's alg
// and an aud among others, refuses an assertion without iat, and reads no
// nbf.
func (p *Provider) verifyAssertion(ctx context.Context, assertion, clientID string) (op.Client, error) {
	if len(assertion) > 16<<10 {
		return nil, oidc.ErrInvalidClient().WithDescription("client_assertion is too long")
	}
	invalid := oidc.ErrInvalidClient().WithDescription("client_assertion is not valid")
	tok, err := jwt.ParseSigned(assertion, assertionAlgorithms)
	if err != nil || len(tok.Headers) != 1 {
		return nil, invalid
	}
	// Read unverified only to find the client, whose key verifies them.
	var unverified jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&unverified); err != nil {
		return nil, invalid
	}
	c, err := p.client(unverified.Issuer)
	if err != nil || c.AuthMethod() != oidc.AuthMethodPrivateKeyJWT {
		return nil, invalid
	}
	key, err := c.key(tok.Headers[0].KeyID)
	if err != nil || (key.Algorithm != "" && key.Algorithm != tok.Headers[0].Algorithm) {
		return nil, invalid
	}
	var claims jwt.Claims
	if err := tok.Claims(key, &claims); err != nil {
		return nil, invalid
	}
	if claims.Issuer != c.GetID() || claims.Subject != c.GetID() {
		return nil, invalid
	}
	if clientID != "" && clientID != c.GetID() {
		return nil, oidc.ErrInvalidClient().WithDescription("client_id is not the assertion's issuer")
	}
	tokenURL := strings.TrimSuffix(p.opts.Config.Issuer, "/") + tokenPath
	if len(claims.Audience) != 1 || (claims.Audience[0] != p.opts.Config.Issuer && claims.Audience[0] != tokenURL) {
		return nil, oidc.ErrInvalidClient().WithDescription("client_assertion's aud must be this provider's issuer (or its token endpoint's URL), alone")
	}
	if claims.ID == "" {
		return nil, oidc.ErrInvalidClient().WithDescription("client_assertion must carry a jti")
	}
	if claims.Expiry == nil {
		return nil, oidc.ErrInvalidClient().WithDescription("client_assertion must carry an exp")
	}
	now := p.opts.Now()
	switch err := claims.ValidateWithLeeway(jwt.Expected{Time: now}, assertionLeeway); {
	case errors.Is(err, jwt.ErrExpired):
		return nil, oidc.ErrInvalidClient().WithDescription("client_assertion has expired")
	case errors.Is(err, jwt.ErrNotValidYet):
		return nil, oidc.ErrInvalidClient().WithDescription("client_assertion is not valid yet (nbf)")
	case errors.Is(err, jwt.ErrIssuedInTheFuture):
		return nil, oidc.ErrInvalidClient().WithDescription("client_assertion is issued in the future (iat)")
	case err != nil:
		return nil, invalid
	}
	exp := claims.Expiry.Time()
	if exp.Sub(now) > time.Hour {
		return nil, oidc.ErrInvalidClient().WithDescription("client_assertion must expire within an hour")
	}
	// The jti is kept past exp by a margin: a replica whose clock runs ahead
	// must not purge it while another still takes the assertion.
	err = p.opts.Store.ConsumeFlow(ctx, storeKey("assertion", c.GetID()+"\x00"+claims.ID), exp.Add(consumedMargin))
	switch {
	case errors.Is(err, store.ErrUsed):
		p.event("replayed_assertion")
		return nil, oidc.ErrInvalidClient().WithDescription("client_assertion was used before")
	case err != nil:
		return nil, oidcError(err, "the store cannot be reached")
	}
	return c, nil
}

// assertionAlgorithms are those discovery names for client assertions
// (token_endpoint_auth_signing_alg_values_supported).
var assertionAlgorithms = []jose.SignatureAlgorithm{jose.RS256, jose.ES256}

// assertionLeeway is the clock skew allowed on an assertion's exp, nbf and
// iat (the figure the library allowed); consumedMargin is how long past its
// exp a spent jti is kept, for replicas whose clocks differ.
const (
	assertionLeeway = time.Second
	consumedMargin  = 5 * time.Minute
)

// headerCredentialsProblem says what is wrong with the client credentials of
// a token or revocation request's Authorization header, or "" when there is
// nothing wrong with them (or no header). A client that tried the header gets
// invalid_client with a 401 and the challenge (RFC 6749 5.2), whatever the
// fault: the library would answer some of these faults with invalid_request
// and a 400, having read the header as absent.
func headerCredentialsProblem(r *http.Request) string {
	headers := r.Header.Values("Authorization")
	switch {
	case len(headers) == 0:
		return ""
	case len(headers) > 1:
		return "the request has more than one Authorization header"
	}
	h := headers[0]
	if scheme, _, _ := strings.Cut(h, " "); !strings.EqualFold(scheme, "Basic") {
		// Another scheme beside credentials in the form is not ours to
		// judge (a gateway may add its own); without them it is the
		// client's attempt at authentication.
		if r.PostForm.Get("client_id") != "" || r.PostForm.Get("client_assertion") != "" {
			return ""
		}
		return "client authentication in the Authorization header uses the Basic scheme, not " + printable.Line(printable.Cut(scheme, maxShownParameter))
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		if _, err := base64.StdEncoding.DecodeString(strings.TrimSpace(h[len("Basic"):])); err != nil {
			return "the Basic credentials are not base64 (RFC 7617)"
		}
		return "the Basic credentials hold no colon between the client id and its secret"
	}
	// RFC 6749 2.3.1: both are form-encoded before they are joined.
	clientID, err := url.QueryUnescape(id)
	if err != nil {
		return "the client id in the Basic credentials is not form-encoded (RFC 6749 2.3.1)"
	}
	if _, err := url.QueryUnescape(secret); err != nil {
		return "the secret in the Basic credentials is not form-encoded (RFC 6749 2.3.1)"
	}
	if clientID == "" {
		return "the Basic credentials name no client"
	}
	if form := r.PostForm.Get("client_id"); form != "" && form != clientID {
		return "client_id in the form names another client than the Authorization header"
	}
	return ""
}

// isBasic says whether an Authorization header is of the Basic scheme, whose
// name is case-insensitive (RFC 7235 2.1).
func isBasic(h string) bool {
	return len(h) > len("Basic ") && strings.EqualFold(h[:len("Basic ")], "Basic ")
}
