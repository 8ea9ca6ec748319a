package oauth2kit

import (
	"encoding/json"

	"github.com/idplug/idplug/sdk"
)

// ClientConfig is the part of a connector configuration in Logto's shape that every
// OAuth 2.0 client has, under Logto's field names, with idplug's additions for
// private_key_jwt and for the calls to the provider. A connector's own config
// struct embeds it and decodes with DecodeConfig, so the OAuth 2.0 and OpenID
// Connect connectors (and an author's own) read these fields the same way and
// report the same problems under the same names.
//
// The check methods add a problem to p for every bad field and return what the
// field means; a connector calls the ones it needs, in the order its problems
// should be listed.
type ClientConfig struct {
	// Where the provider is. Which of them are required is the connector's call
	// (an OpenID Connect connector finds them by discovery).
	AuthorizationEndpoint string `json:"authorizationEndpoint"`
	TokenEndpoint         string `json:"tokenEndpoint"`
	UserInfoEndpoint      string `json:"userInfoEndpoint"`

	// Who the client is and how it proves it at the token endpoint (CheckClientAuth).
	ClientID                        string `json:"clientId"`
	ClientSecret                    string `json:"clientSecret"`
	TokenEndpointAuthMethod         string `json:"tokenEndpointAuthMethod"`         // client_secret_post when empty (Logto's default)
	ClientSecretJWTSigningAlgorithm string `json:"clientSecretJwtSigningAlgorithm"` // HS256 when empty
	PrivateKey                      string `json:"privateKey"`                      // PEM or JWK
	PrivateKeyID                    string `json:"privateKeyId"`
	PrivateKeySigningAlgorithm      string `json:"privateKeySigningAlgorithm"` // from the key when empty
	ClientAssertionAudience         string `json:"clientAssertionAudience"`    // the token endpoint when empty

	// What the client asks for, and how.
	Scope                     string                     `json:"scope"`
	ResponseType              string                     `json:"responseType"`              // only "code"
	GrantType                 string                     `json:"grantType"`                 // only "authorization_code"
	TokenEndpointResponseType string                     `json:"tokenEndpointResponseType"` // json, query-string, or by Content-Type
	PKCE                      string                     `json:"pkce"`                      // S256 (the default) or none
	CustomConfig              map[string]json.RawMessage `json:"customConfig"`              // extra request parameters

	// How the connector calls the provider (CheckHTTPClient).
	RequestTimeout json.RawMessage `json:"requestTimeout"`
	CACertificates string          `json:"caCertificates"`
	UserAgent      string          `json:"userAgent"`

	// StoreTokens returns the provider's tokens with the profile.
	StoreTokens bool `json:"storeTokens"`
}

// CheckResponseAndGrantType accepts Logto's responseType and grantType, which have
// only one possible value each.
func (c *ClientConfig) CheckResponseAndGrantType(p *sdk.ConfigError) {
	if c.ResponseType != "" && c.ResponseType != "code" {
		p.Add("responseType", "must be \"code\" (the only response type supported), got %q", c.ResponseType)
	}
	if c.GrantType != "" && c.GrantType != "authorization_code" {
		p.Add("grantType", "must be \"authorization_code\" (the only grant supported), got %q", c.GrantType)
	}
}

// CheckResponseFormat reads tokenEndpointResponseType (see the function of the same name).
func (c *ClientConfig) CheckResponseFormat(p *sdk.ConfigError) ResponseFormat {
	return CheckResponseFormat(c.TokenEndpointResponseType, p)
}

// CheckCustomConfig reads customConfig: string values, sent as written, and never a
// protocol parameter or one of reserved (see the function of the same name).
func (c *ClientConfig) CheckCustomConfig(p *sdk.ConfigError, reserved ...string) map[string]string {
	return CheckCustomConfig(c.CustomConfig, p, reserved...)
}

// CheckPKCE reads pkce: whether the client sends a PKCE challenge.
func (c *ClientConfig) CheckPKCE(p *sdk.ConfigError) bool {
	on := CheckPKCE(c.PKCE, p)
	if !on && c.TokenEndpointAuthMethod == "none" {
		// A public client proves nothing at the token endpoint: PKCE alone
		// ties its code to the sign-in (RFC 9700 2.1.1), and without it
		// whoever holds a leaked code redeems it.
		p.Add("pkce", "cannot be \"none\" with tokenEndpointAuthMethod \"none\": a public client's code is tied to its sign-in by PKCE alone")
	}
	return on
}

// CheckHTTPClient returns the client that requestTimeout, userAgent and
// caCertificates describe; defaultUserAgent names the connector and its version.
func (c *ClientConfig) CheckHTTPClient(p *sdk.ConfigError, defaultUserAgent string) *HTTPClient {
	return HTTPSettings{RequestTimeout: c.RequestTimeout, UserAgent: c.UserAgent,
		CACertificates: c.CACertificates, DefaultUserAgent: defaultUserAgent}.Check(p)
}
