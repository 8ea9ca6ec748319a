package oidcconnector

import (
	"crypto"
	"crypto/ecdsa"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/idplug/idplug/sdk"
	"github.com/idplug/idplug/sdk/oauth2kit"
)

// Presets: provider fills in what a provider's console does not show, so an
// operator copies only what it does (client id and secret; the tenant; Apple's team
// id, key id and key).
const (
	providerGeneric   = "generic"
	providerGoogle    = "google"
	providerMicrosoft = "microsoft"
	providerApple     = "apple"
)

const (
	googleIssuer = "https://accounts.google.com"
	appleIssuer  = "https://appleid.apple.com"
	// appleSecretLifetime: Apple accepts up to six months; a short-lived secret signed
	// per token request leaks nothing worth stealing.
	appleSecretLifetime = 5 * time.Minute
)

// preset is what applyPreset decided, finished once the instance is built.
type preset struct {
	name           string
	extraIssuers   []string
	tenantAlias    bool
	allowedTenants map[string]bool
	appleKey       *ecdsa.PrivateKey
}

// applyPreset fills in the provider's defaults, leaving every field the operator
// set as it is (an explicit issuer or scope wins).
func (c *config) applyPreset(p *sdk.ConfigError) *preset {
	pr := &preset{name: c.Provider}
	setDefault := func(field *string, value string) {
		if *field == "" {
			*field = value
		}
	}
	if c.Provider != providerMicrosoft && c.Tenant != "" {
		p.Add("tenant", "is for provider microsoft")
	}
	if c.Provider != providerMicrosoft && c.AllowedTenants != nil {
		p.Add("allowedTenants", "is for provider microsoft")
	}
	if c.Provider != providerApple && c.TeamID != "" {
		p.Add("teamId", "is for provider apple")
	}
	if hosts, ok := presetEndpointHosts[c.Provider]; ok && c.EndpointHosts == nil {
		c.EndpointHosts = hosts
	}
	switch c.Provider {
	case "", providerGeneric:
	case providerGoogle:
		setDefault(&c.Issuer, googleIssuer)
		setDefault(&c.Scope, "openid profile email")
		// Google's ID tokens may name their issuer without the scheme (its own
		// documentation says to accept both).
		pr.extraIssuers = []string{"accounts.google.com"}
	case providerMicrosoft:
		tenant := c.Tenant
		if tenant == "" {
			tenant = "common"
		}
		if strings.ContainsAny(tenant, "/?#{} ") {
			p.Add("tenant", "must be a tenant id, a domain, common, organizations or consumers")
		}
		setDefault(&c.Issuer, "https://login.microsoftonline.com/"+tenant+"/v2.0")
		setDefault(&c.Scope, "openid profile email")
		pr.tenantAlias = true
		pr.allowedTenants = allowedTenants(c.AllowedTenants, tenant, p)
	case providerApple:
		setDefault(&c.Issuer, appleIssuer)
		setDefault(&c.Scope, "openid name email")
		setDefault(&c.TokenEndpointAuthMethod, string(oauth2kit.ClientSecretPost))
		if c.TokenEndpointAuthMethod != string(oauth2kit.ClientSecretPost) {
			p.Add("tokenEndpointAuthMethod", "must be client_secret_post for Apple (the connector signs the client secret)")
		}
		if c.ClientSecret != "" {
			p.Add("clientSecret", "is signed by the connector for Apple from teamId, privateKeyId and privateKey; leave it out")
		}
		c.forceFormPost(p)
		pr.appleKey = c.appleKey(p)
	default:
		p.Add("provider", "unknown provider %q; use generic, google, microsoft or apple", c.Provider)
	}
	return pr
}

// clientAuth checks how the client authenticates to the token endpoint. Apple's
// client secret is signed by the connector for each token request, so none is
// configured.
func (c *config) clientAuth(p *sdk.ConfigError) oauth2kit.ClientAuth {
	if c.Provider == providerApple {
		return c.CheckClientAuthSecretOptional(p)
	}
	return c.CheckClientAuth(p)
}

// forceFormPost asks for response_mode=form_post, which Apple requires when the
// scope asks for the name or the email.
func (c *config) forceFormPost(p *sdk.ConfigError) {
	var arc map[string]any
	if len(c.AuthRequestOptionalConfig) > 0 {
		var inner sdk.ConfigError
		var tmp authRequestConfig
		if sdk.DecodeConfig(c.AuthRequestOptionalConfig, &tmp, &inner) != nil || inner.Err() != nil {
			return // check reports it
		}
		if tmp.ResponseMode != "" && tmp.ResponseMode != "form_post" {
			p.Add("authRequestOptionalConfig.responseMode", "must be form_post for Apple")
		}
		_ = json.Unmarshal(c.AuthRequestOptionalConfig, &arc)
	}
	if arc == nil {
		arc = map[string]any{}
	}
	arc["responseMode"] = "form_post"
	c.AuthRequestOptionalConfig, _ = json.Marshal(arc)
}

func (c *config) appleKey(p *sdk.ConfigError) *ecdsa.PrivateKey {
	if c.TeamID == "" {
		p.Add("teamId", "is required for Apple (the Team ID of the developer account)")
	}
	if c.PrivateKeyID == "" {
		p.Add("privateKeyId", "is required for Apple (the Key ID of the Sign in with Apple key)")
	}
	if c.PrivateKey == "" {
		p.Add("privateKey", "is required for Apple (the .p8 file's contents)")
		return nil
	}
	key, err := oauth2kit.ParsePrivateKey(c.PrivateKey)
	if err != nil {
		p.Add("privateKey", "%v", err)
		return nil
	}
	ec, ok := key.(*ecdsa.PrivateKey)
	if !ok || ec.Curve.Params().Name != "P-256" {
		p.Add("privateKey", "must be Apple's P-256 key (.p8)")
		return nil
	}
	return ec
}

// maxAllowedTenants bounds allowedTenants: a list an operator keeps by hand.
const maxAllowedTenants = 1000

// allowedTenants checks Microsoft's allowedTenants: tenant ids, for the
// multi-tenant endpoints only, where the ID token's tid is the only word on
// which directory the account is in (a single tenant's issuer already admits
// its own accounts alone).
func allowedTenants(ids []string, tenant string, p *sdk.ConfigError) map[string]bool {
	if ids == nil {
		return nil
	}
	if tenant != "common" && tenant != "organizations" {
		p.Add("allowedTenants", "is for tenant common or organizations; tenant %q signs in its own accounts only", tenant)
		return nil
	}
	switch {
	case len(ids) == 0:
		p.Add("allowedTenants", "is empty, which would let no one in; list tenant ids, or leave it out to let every tenant in")
		return nil
	case len(ids) > maxAllowedTenants:
		p.Add("allowedTenants", "has %d tenants; at most %d", len(ids), maxAllowedTenants)
		return nil
	}
	allowed := make(map[string]bool, len(ids))
	for i, id := range ids {
		if !tenantIDPattern.MatchString(id) {
			p.Add(fmt.Sprintf("allowedTenants[%d]", i), "%q is not a tenant id (a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47; "+
				"personal Microsoft accounts are 9188040d-6c67-4c5b-b112-36a304b66dad)", clean(id))
			continue
		}
		allowed[strings.ToLower(id)] = true
	}
	return allowed
}

// finish applies what the preset needs of the built instance.
func (pr *preset) finish(c *config, in *Instance, p *sdk.ConfigError) {
	if in == nil || in.provider == nil {
		return
	}
	in.provider.extraIssuers, in.provider.tenantAlias = pr.extraIssuers, pr.tenantAlias
	in.appleUser = pr.name == providerApple
	if hd := in.authParams["hd"]; pr.name == providerGoogle && hd != "" && hd != "*" {
		in.verification.hostedDomain = hd
	}
	in.verification.allowedTenants = pr.allowedTenants
	if pr.appleKey != nil {
		in.apple = &appleSecret{teamID: c.TeamID, keyID: c.PrivateKeyID, key: pr.appleKey, now: time.Now}
		if _, err := in.apple.signErr(c.ClientID); err != nil {
			p.Add("privateKey", "cannot sign with it: %v", err)
		}
	}
}

// appleSecret signs the client secret Apple wants: an ES256 JWT from the team,
// naming the key, for the client (Services ID).
type appleSecret struct {
	teamID, keyID string
	key           crypto.Signer
	now           func() time.Time
}

func (a *appleSecret) sign(clientID string) string {
	s, _ := a.signErr(clientID) // the key signed at configuration time
	return s
}

func (a *appleSecret) signErr(clientID string) (string, error) {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: a.key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", a.keyID))
	if err != nil {
		return "", err
	}
	now := a.now()
	return jwt.Signed(signer).Claims(jwt.Claims{
		Issuer:   a.teamID,
		Subject:  clientID,
		Audience: jwt.Audience{appleIssuer},
		IssuedAt: jwt.NewNumericDate(now),
		Expiry:   jwt.NewNumericDate(now.Add(appleSecretLifetime)),
	}).Serialize()
}
