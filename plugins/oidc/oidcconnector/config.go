package oidcconnector

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/idplug/idplug/sdk"
	"github.com/idplug/idplug/sdk/oauth2kit"
)

// config is one instance's configuration as an operator writes it: the fields of
// Logto's OIDC connector (which extends its OAuth 2.0 connector's), with their names,
// so a Logto configuration works unchanged, and what idplug adds. The fields every
// OAuth 2.0 client has are oauth2kit's; README.md documents every field, and
// config_test.go keeps the two in step.
type config struct {
	oauth2kit.ClientConfig
	ProfileMap                json.RawMessage `json:"profileMap"`
	IDTokenVerificationConfig json.RawMessage `json:"idTokenVerificationConfig"`
	AuthRequestOptionalConfig json.RawMessage `json:"authRequestOptionalConfig"`

	// Beyond Logto.
	Issuer                string          `json:"issuer"`
	Provider              string          `json:"provider"`
	Tenant                string          `json:"tenant"`
	RequireACR            bool            `json:"requireAcr"`
	AllowedTenants        []string        `json:"allowedTenants"`
	TeamID                string          `json:"teamId"`
	FetchUserInfo         *bool           `json:"fetchUserInfo"`
	MinKeyRefreshInterval json.RawMessage `json:"minKeyRefreshInterval"`
	// EndpointHosts may serve discovered endpoints besides the issuer's origin.
	EndpointHosts []string `json:"endpointHosts"`
}

// idTokenConfig is Logto's idTokenVerificationConfig: the options of jose's
// jwtVerify, of which the ones that make sense for an ID token are honoured.
type idTokenConfig struct {
	JWKSURI        string          `json:"jwksUri"`
	Issuer         json.RawMessage `json:"issuer"`
	Audience       json.RawMessage `json:"audience"`
	Algorithms     []string        `json:"algorithms"`
	ClockTolerance json.RawMessage `json:"clockTolerance"`
	MaxTokenAge    json.RawMessage `json:"maxTokenAge"`
	Subject        string          `json:"subject"`
	Typ            string          `json:"typ"`
	Crit           map[string]bool `json:"crit"`
	CurrentDate    json.RawMessage `json:"currentDate"`
}

// authRequestConfig is Logto's authRequestOptionalConfig: OIDC Core 3.1.2.1
// authorization request parameters, sent snake_cased.
type authRequestConfig struct {
	ResponseMode string `json:"responseMode"`
	Display      string `json:"display"`
	Prompt       string `json:"prompt"`
	MaxAge       string `json:"maxAge"`
	UILocales    string `json:"uiLocales"`
	IDTokenHint  string `json:"idTokenHint"`
	LoginHint    string `json:"loginHint"`
	ACRValues    string `json:"acrValues"`
}

// Instance is a checked configuration, ready to serve calls. It is built once per
// configuration version and shared by concurrent calls; the provider's discovered
// metadata and keys it caches are guarded by their own locks.
type Instance struct {
	clientID     string
	scope        string
	pkce         bool
	formPost     bool
	authParams   map[string]string // authRequestOptionalConfig and customConfig
	storeTokens  bool
	fetchInfo    bool
	provider     *provider
	token        *oauth2kit.TokenEndpoint // URL filled per call from the provider's endpoints
	userInfo     *oauth2kit.UserInfoEndpoint
	verification verification
	apple        *appleSecret // Apple: signs the client secret for each token request
	appleUser    bool         // Apple: the name in the first callback's user field is read
}

// verification is how ID tokens are checked.
type verification struct {
	clientID   string
	algorithms []string // allowed; empty: the provider's asymmetric ones, else RS256
	hmacSecret []byte   // set only when algorithms names an HMAC algorithm
	skew       time.Duration
	maxAge     time.Duration
	// authAge is the max_age the authorization request asks, when authAgeAsked:
	// the ID token's auth_time must then satisfy it (OIDC Core 3.1.3.7 step 13),
	// since the request crossed the browser, which may have dropped it.
	authAge      time.Duration
	authAgeAsked bool
	// loginAsked: the authorization request sends prompt=login. An auth_time,
	// when the token has one, must then be of this sign-in: a browser that drops
	// prompt would otherwise sign in on the provider's old session.
	loginAsked bool
	// hostedDomain is Google's hd asked in the authorization request: only a
	// hint to Google's page, which the browser may drop, so the ID token's hd
	// must match (Google's documentation says to check it).
	hostedDomain string
	// acrs are the acr_values the authorization request asks for, when
	// requireAcr makes the ID token's acr one of them; nil checks no acr.
	acrs map[string]bool
	// allowedTenants are the Microsoft tenants (lower-case ids) a multi-tenant
	// instance lets in by the ID token's tid; nil lets every tenant in.
	allowedTenants map[string]bool
	subject        string
	typ            string
	now            func() time.Time
}

// parseConfig decodes and checks a configuration. It returns a *sdk.ConfigError
// naming every bad field, or an *sdk.Error when raw is not a JSON object at all.
func parseConfig(raw []byte) (*Instance, error) { return oauth2kit.ParseConfig(raw, (*config).build) }

// build applies the preset, then checks the result. A config that did not decode
// is not checked further: its preset would only add noise to the problems.
func (c *config) build(p *sdk.ConfigError) *Instance {
	if p.Err() != nil {
		return nil
	}
	preset := c.applyPreset(p)
	// An unknown preset (a misspelt provider) filled in nothing: the
	// endpoints it would have given are then "required" too, burying the
	// one problem that matters.
	if slices.ContainsFunc(p.Fields, func(f sdk.FieldError) bool { return f.Field == "provider" }) {
		return nil
	}
	in := c.check(p)
	preset.finish(c, in, p)
	return in
}
