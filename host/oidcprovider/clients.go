package oidcprovider

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/idplug/idplug/host/config"
	"github.com/rs/cors"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// client is a registered app as the library sees it.
type client struct {
	cfg  config.Client
	keys []jose.JSONWebKey // private_key_jwt
	p    *Provider
}

var _ op.Client = (*client)(nil)

func newClient(c config.Client, p *Provider) (*client, error) {
	cl := &client{cfg: c, p: p}
	if len(c.JWKS) > 0 {
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(c.JWKS, &set); err != nil {
			return nil, fmt.Errorf("jwks: %w", err)
		}
		for _, k := range set.Keys {
			if !k.Valid() || !k.IsPublic() {
				return nil, fmt.Errorf("jwks: key %q is not a valid public key", k.KeyID)
			}
			cl.keys = append(cl.keys, k)
		}
	}
	return cl, nil
}

func (c *client) GetID() string                    { return c.cfg.ID }
func (c *client) RedirectURIs() []string           { return c.cfg.RedirectURIs }
func (c *client) PostLogoutRedirectURIs() []string { return c.cfg.PostLogoutRedirectURIs }

// ApplicationType: public clients are native apps to the library, which then
// allows their loopback redirect URIs on any port (RFC 8252 7.3) and their
// private-use schemes.
func (c *client) ApplicationType() op.ApplicationType {
	if c.cfg.Public {
		return op.ApplicationTypeNative
	}
	return op.ApplicationTypeWeb
}

func (c *client) AuthMethod() oidc.AuthMethod { return oidc.AuthMethod(c.cfg.AuthMethod) }

// ResponseTypes: the authorization code flow only.
func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}

func (c *client) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
}

// LoginURL is where /authorize sends a browser that must choose or sign in.
func (c *client) LoginURL(id string) string {
	return c.p.link(loginPath) + "?id=" + url.QueryEscape(id)
}

// AccessTokenType: opaque, sealed access tokens, honoured while their grant lives.
func (c *client) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeBearer }
func (c *client) IDTokenLifetime() time.Duration      { return c.p.opts.Config.AccessTokenTTL }
func (c *client) DevMode() bool                       { return false }
func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) IsScopeAllowed(string) bool { return false }

// IDTokenUserinfoClaimsAssertion puts the profile claims in the ID token too:
// many apps (and identity servers taking an upstream) read only the ID token.
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *client) ClockSkew() time.Duration             { return 0 }

// checkSecret compares in constant time.
func (c *client) checkSecret(secret string) bool {
	return c.cfg.Secret != "" && subtle.ConstantTimeCompare([]byte(secret), []byte(c.cfg.Secret)) == 1
}

// key returns the client's key for a private_key_jwt assertion: the one with
// kid, or the only one when the assertion names none.
func (c *client) key(kid string) (*jose.JSONWebKey, error) {
	for i, k := range c.keys {
		if k.KeyID == kid || (kid == "" && len(c.keys) == 1) {
			return &c.keys[i], nil
		}
	}
	return nil, oidc.ErrInvalidClient().WithDescription("no key of this client has that kid")
}

// corsOptions lets browser apps (public clients) call the token, userinfo,
// revocation and key endpoints, without credentials: nothing there reads a cookie.
func corsOptions() *cors.Options {
	return &cors.Options{
		AllowedOrigins:   []string{"*"},
		AllowedMethods:   []string{http.MethodGet, http.MethodPost},
		AllowedHeaders:   []string{"Authorization", "Content-Type", "Accept"},
		AllowCredentials: false,
	}
}
