package oauth2connector

import (
	"encoding/json"

	"github.com/idplug/idplug/sdk"
	"github.com/idplug/idplug/sdk/oauth2kit"
)

// config is one instance's configuration as an operator writes it: the fields of
// Logto's OAuth 2.0 connector, with their names and defaults, so a Logto
// configuration works unchanged, and what idplug adds. The fields every OAuth 2.0
// client has are oauth2kit's; README.md documents every field, and
// metadata_test.go keeps the two in step.
type config struct {
	oauth2kit.ClientConfig
	ProfileMap map[string]json.RawMessage `json:"profileMap"`

	// Beyond Logto.
	Issuer             string `json:"issuer"`
	UserInfoMethod     string `json:"userInfoMethod"`
	RevocationEndpoint string `json:"revocationEndpoint"`
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
// naming every bad field, the undecodable ones and the bad values alike, or an
// *sdk.Error when raw is not a JSON object at all.
func parseConfig(raw []byte) (*Instance, error) { return oauth2kit.ParseConfig(raw, (*config).check) }

// check validates every field, recording each problem, and builds the instance.
// The instance is only meaningful when no problem was recorded.
func (c *config) check(p *sdk.ConfigError) *Instance {
	c.checkEndpoints(p)
	c.CheckResponseAndGrantType(p)
	custom := c.CheckCustomConfig(p)
	httpClient := c.CheckHTTPClient(p, defaultUserAgent())
	in := &Instance{
		authorizationEndpoint: c.AuthorizationEndpoint,
		clientID:              c.ClientID,
		scope:                 c.Scope,
		pkce:                  c.CheckPKCE(p),
		issuer:                c.checkedIssuer(p),
		customConfig:          custom,
		profileMap:            c.profileMapping(p),
		storeTokens:           c.StoreTokens,
		token: &oauth2kit.TokenEndpoint{
			URL:    c.TokenEndpoint,
			Auth:   c.CheckClientAuth(p),
			Format: c.CheckResponseFormat(p),
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
