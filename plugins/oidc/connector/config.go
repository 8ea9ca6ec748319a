package connector

import (
	"encoding/json"
	"time"

	"github.com/idplug/idplug/sdk"
	"github.com/idplug/idplug/sdk/oauth2kit"
)

// config is one instance's configuration as an operator writes it: the fields of
// Logto's OIDC connector (which extends its OAuth 2.0 connector's), with their names,
// so a Logto configuration works unchanged, followed by what idplug adds. README.md
// documents every field; metadata_test.go keeps the two in step.
type config struct {
	AuthorizationEndpoint           string                     `json:"authorizationEndpoint"`
	TokenEndpoint                   string                     `json:"tokenEndpoint"`
	UserInfoEndpoint                string                     `json:"userInfoEndpoint"`
	ClientID                        string                     `json:"clientId"`
	ClientSecret                    string                     `json:"clientSecret"`
	TokenEndpointAuthMethod         string                     `json:"tokenEndpointAuthMethod"`
	ClientSecretJWTSigningAlgorithm string                     `json:"clientSecretJwtSigningAlgorithm"`
	TokenEndpointResponseType       string                     `json:"tokenEndpointResponseType"`
	ResponseType                    string                     `json:"responseType"`
	GrantType                       string                     `json:"grantType"`
	Scope                           string                     `json:"scope"`
	CustomConfig                    map[string]json.RawMessage `json:"customConfig"`
	ProfileMap                      json.RawMessage            `json:"profileMap"`
	IDTokenVerificationConfig       json.RawMessage            `json:"idTokenVerificationConfig"`
	AuthRequestOptionalConfig       json.RawMessage            `json:"authRequestOptionalConfig"`

	// Beyond Logto.
	Issuer                     string          `json:"issuer"`
	Provider                   string          `json:"provider"`
	Tenant                     string          `json:"tenant"`
	TeamID                     string          `json:"teamId"`
	FetchUserInfo              *bool           `json:"fetchUserInfo"`
	PKCE                       string          `json:"pkce"`
	PrivateKey                 string          `json:"privateKey"`
	PrivateKeyID               string          `json:"privateKeyId"`
	PrivateKeySigningAlgorithm string          `json:"privateKeySigningAlgorithm"`
	ClientAssertionAudience    string          `json:"clientAssertionAudience"`
	MinKeyRefreshInterval      json.RawMessage `json:"minKeyRefreshInterval"`
	RequestTimeout             json.RawMessage `json:"requestTimeout"`
	CACertificates             string          `json:"caCertificates"`
	UserAgent                  string          `json:"userAgent"`
	StoreTokens                bool            `json:"storeTokens"`
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
}

// verification is how ID tokens are checked.
type verification struct {
	clientID   string
	algorithms []string // allowed; empty: the provider's asymmetric ones, else RS256
	hmacSecret []byte   // set only when algorithms names an HMAC algorithm
	skew       time.Duration
	maxAge     time.Duration
	subject    string
	typ        string
	now        func() time.Time
}

// parseConfig decodes and checks a configuration. It returns a *sdk.ConfigError
// naming every bad field, or an *sdk.Error when raw is not a JSON object at all.
func parseConfig(raw []byte) (*Instance, error) {
	var (
		cfg      config
		problems sdk.ConfigError
	)
	if err := sdk.DecodeConfig(raw, &cfg, &problems); err != nil {
		return nil, err
	}
	if err := problems.Err(); err != nil {
		return nil, err
	}
	preset := cfg.applyPreset(&problems)
	in := cfg.check(&problems)
	preset.finish(&cfg, in, &problems)
	if err := problems.Err(); err != nil {
		return nil, err
	}
	return in, nil
}
