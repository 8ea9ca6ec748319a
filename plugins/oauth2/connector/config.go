package connector

import (
	"encoding/json"

	"github.com/idplug/idplug/sdk"
	"github.com/idplug/idplug/sdk/oauth2kit"
)

// config is one instance's configuration as an operator writes it: the fields of
// Logto's OAuth 2.0 connector, with their names and defaults, so a Logto
// configuration works unchanged, followed by what idplug adds. README.md documents
// every field; metadata_test.go keeps the two in step.
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
	ProfileMap                      map[string]json.RawMessage `json:"profileMap"`

	// Beyond Logto.
	PKCE                       string          `json:"pkce"`
	Issuer                     string          `json:"issuer"`
	PrivateKey                 string          `json:"privateKey"`
	PrivateKeyID               string          `json:"privateKeyId"`
	PrivateKeySigningAlgorithm string          `json:"privateKeySigningAlgorithm"`
	ClientAssertionAudience    string          `json:"clientAssertionAudience"`
	UserInfoMethod             string          `json:"userInfoMethod"`
	RequestTimeout             json.RawMessage `json:"requestTimeout"`
	CACertificates             string          `json:"caCertificates"`
	UserAgent                  string          `json:"userAgent"`
	StoreTokens                bool            `json:"storeTokens"`
	RevocationEndpoint         string          `json:"revocationEndpoint"`
}

// Instance is a checked configuration, ready to serve calls. It is built once per
// configuration version and shared by concurrent calls, so it is never modified.
type Instance struct {
	authorizationEndpoint string
	clientID              string
	scope                 string
	pkce                  bool
	issuer                string
	customConfig          map[string]string
	profileMap            oauth2kit.ProfileMap
	storeTokens           bool
	token                 *oauth2kit.TokenEndpoint
	userInfo              *oauth2kit.UserInfoEndpoint
	// revocation is nil when no revocationEndpoint is configured.
	revocation *oauth2kit.RevocationEndpoint
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
	in := cfg.check(&problems)
	if err := problems.Err(); err != nil {
		return nil, err
	}
	return in, nil
}

// check validates every field, recording each problem, and builds the instance.
// The instance is only meaningful when no problem was recorded.
func (c *config) check(p *sdk.ConfigError) *Instance {
	c.checkEndpoints(p)
	c.checkFixedValues(p)
	custom := c.customParams(p)
	httpClient := c.httpClient(p)
	in := &Instance{
		authorizationEndpoint: c.AuthorizationEndpoint,
		clientID:              c.ClientID,
		scope:                 c.Scope,
		pkce:                  c.pkceEnabled(p),
		issuer:                c.checkedIssuer(p),
		customConfig:          custom,
		profileMap:            c.profileMapping(p),
		storeTokens:           c.StoreTokens,
		token: &oauth2kit.TokenEndpoint{
			URL:    c.TokenEndpoint,
			Auth:   c.clientAuth(p),
			Format: c.responseFormat(p),
			Extra:  custom,
			HTTP:   httpClient,
		},
		userInfo: &oauth2kit.UserInfoEndpoint{
			URL:    c.UserInfoEndpoint,
			Method: c.userInfoHTTPMethod(p),
			HTTP:   httpClient,
		},
	}
	if c.RevocationEndpoint != "" {
		in.revocation = &oauth2kit.RevocationEndpoint{URL: c.RevocationEndpoint, Token: in.token}
	}
	return in
}
