package main

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/idplug/idplug/sdk"
	"github.com/idplug/idplug/sdk/oauth2kit"
)

// Defaults: github.com, and the scopes that give the profile and the email addresses.
const (
	defaultBaseURL = "https://github.com"
	defaultAPIURL  = "https://api.github.com"
	defaultScope   = "read:user user:email"
	// orgScope lists every organization the user belongs to, not only those
	// whose membership is public; added to the default scope with organizations.
	orgScope = "read:org"
	// apiVersion is the REST API version the connector is written against.
	apiVersion = "2022-11-28"
)

// config is one instance's configuration as an operator writes it. README.md
// documents every field.
type config struct {
	ClientID       string `json:"clientId"`
	ClientSecret   string `json:"clientSecret"`
	Scope          string `json:"scope"`
	BaseURL        string `json:"baseUrl"`
	APIURL         string `json:"apiUrl"`
	CACertificates string `json:"caCertificates"`
	StoreTokens    bool   `json:"storeTokens"`
	Organizations  bool   `json:"organizations"`
}

// instance is a checked configuration, built once per configuration version and
// shared by concurrent calls: it is never modified.
type instance struct {
	clientID     string
	scope        string
	authorizeURL string
	storeTokens  bool
	orgs         bool
	token        *oauth2kit.TokenEndpoint
	api          *oauth2kit.APIClient
}

// parseConfig decodes and checks a configuration, naming every bad field at once.
func parseConfig(raw []byte) (*instance, error) {
	var (
		c config
		p sdk.ConfigError
	)
	if err := sdk.DecodeConfig(raw, &c, &p); err != nil {
		return nil, err
	}
	if c.ClientID == "" {
		p.Add("clientId", "is required")
	}
	if c.ClientSecret == "" {
		p.Add("clientSecret", "is required")
	}
	if strings.ContainsAny(c.Scope, ",\r\n") {
		p.Add("scope", "separate scopes with spaces, as in %q", defaultScope)
	}
	base := endpoint(&p, "baseUrl", c.BaseURL, defaultBaseURL)
	api := endpoint(&p, "apiUrl", c.APIURL, apiURLFor(base))
	client, err := oauth2kit.NewHTTPClient(oauth2kit.HTTPOptions{UserAgent: userAgent(), CACertificates: c.CACertificates})
	if err != nil {
		p.Add("caCertificates", "%v", err)
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	scope := c.Scope
	if strings.TrimSpace(scope) == "" {
		scope = defaultScope
		if c.Organizations {
			scope += " " + orgScope
		}
	}
	return &instance{
		clientID:     c.ClientID,
		scope:        scope,
		authorizeURL: base + "/login/oauth/authorize",
		storeTokens:  c.StoreTokens,
		orgs:         c.Organizations,
		token: &oauth2kit.TokenEndpoint{
			URL: base + "/login/oauth/access_token",
			Auth: oauth2kit.ClientAuth{
				Method:       oauth2kit.ClientSecretPost,
				ClientID:     c.ClientID,
				ClientSecret: c.ClientSecret,
			},
			HTTP: client,
		},
		api: &oauth2kit.APIClient{
			BaseURL: api,
			Header: http.Header{
				"Accept":               {"application/vnd.github+json"},
				"X-GitHub-Api-Version": {apiVersion},
			},
			HTTP: client,
		},
	}, nil
}

// endpoint checks an endpoint setting and returns it without a trailing slash, or
// the default when it is empty.
func endpoint(p *sdk.ConfigError, field, value, def string) string {
	if value == "" {
		return def
	}
	// The token exchange sends the client secret, and the API the token.
	if err := oauth2kit.CheckSecureURL(value); err != nil {
		p.Add(field, "%v", err)
		return def
	}
	if u, _ := url.Parse(value); u.RawQuery != "" {
		p.Add(field, "must not have a query string")
	}
	return strings.TrimRight(value, "/")
}

// apiURLFor is the REST API of a GitHub site: api.github.com for github.com, and
// /api/v3 on the same host for GitHub Enterprise Server.
func apiURLFor(base string) string {
	if base == defaultBaseURL {
		return defaultAPIURL
	}
	return base + "/api/v3"
}
