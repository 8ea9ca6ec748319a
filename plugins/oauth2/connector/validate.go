package connector

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/idplug/idplug/sdk"
	"github.com/idplug/idplug/sdk/oauth2kit"
)

const (
	// defaultRequestTimeout and maxRequestTimeout keep every provider call inside the
	// host's 10s call deadline, so a slow provider is reported as provider_timeout.
	defaultRequestTimeout = oauth2kit.DefaultRequestTimeout
	maxRequestTimeout     = 9 * time.Second
)

func (c *config) checkEndpoints(p *sdk.ConfigError) {
	for _, e := range []struct{ field, value string }{
		{"authorizationEndpoint", c.AuthorizationEndpoint},
		{"tokenEndpoint", c.TokenEndpoint},
		{"userInfoEndpoint", c.UserInfoEndpoint},
	} {
		if e.value == "" {
			p.Add(e.field, "is required")
		} else if err := oauth2kit.CheckHTTPURL(e.value); err != nil {
			p.Add(e.field, "%v", err)
		}
	}
	if c.RevocationEndpoint != "" {
		if err := oauth2kit.CheckHTTPURL(c.RevocationEndpoint); err != nil {
			p.Add("revocationEndpoint", "%v", err)
		}
	}
}

// checkFixedValues accepts Logto's responseType and grantType, which have only one
// possible value each.
func (c *config) checkFixedValues(p *sdk.ConfigError) {
	if c.ResponseType != "" && c.ResponseType != "code" {
		p.Add("responseType", "must be \"code\" (the only response type supported), got %q", c.ResponseType)
	}
	if c.GrantType != "" && c.GrantType != "authorization_code" {
		p.Add("grantType", "must be \"authorization_code\" (the only grant supported), got %q", c.GrantType)
	}
}

func (c *config) responseFormat(p *sdk.ConfigError) oauth2kit.ResponseFormat {
	switch c.TokenEndpointResponseType {
	case "":
		return oauth2kit.FormatAuto
	case "json":
		return oauth2kit.FormatJSON
	case "query-string":
		return oauth2kit.FormatForm
	}
	p.Add("tokenEndpointResponseType", "must be \"json\" or \"query-string\" (or unset, to follow the Content-Type), got %q", c.TokenEndpointResponseType)
	return oauth2kit.FormatAuto
}

// customParams checks customConfig: string values, sent as written, and never a
// protocol parameter.
func (c *config) customParams(p *sdk.ConfigError) map[string]string {
	out := make(map[string]string, len(c.CustomConfig))
	for _, key := range sortedKeys(c.CustomConfig) {
		field := "customConfig." + key
		var value string
		switch {
		case key == "":
			p.Add("customConfig", "has an empty key")
		case oauth2kit.IsProtocolParam(key):
			p.Add(field, "%q is a protocol parameter that the connector sets itself; remove it", key)
		case json.Unmarshal(c.CustomConfig[key], &value) != nil:
			p.Add(field, "must be a string")
		default:
			out[key] = value
		}
	}
	return out
}

// profileFields are the profile fields profileMap may map.
var profileFields = []string{"id", "name", "avatar", "email", "phone"}

// profileMapping applies profileMap over the defaults. An empty path for an optional
// field turns that field off.
func (c *config) profileMapping(p *sdk.ConfigError) oauth2kit.ProfileMap {
	m := oauth2kit.DefaultProfileMap()
	targets := map[string]*string{"id": &m.ID, "name": &m.Name, "avatar": &m.Avatar, "email": &m.Email, "phone": &m.Phone}
	for _, key := range sortedKeys(c.ProfileMap) {
		field := "profileMap." + key
		dst, known := targets[key]
		if !known {
			p.Add(field, "unknown profile field; use %s", strings.Join(profileFields, ", "))
			continue
		}
		var path string
		if err := json.Unmarshal(c.ProfileMap[key], &path); err != nil {
			p.Add(field, "must be a string (a path such as \"data.user.id\")")
			continue
		}
		if path == "" && key != "id" {
			*dst = ""
			continue
		}
		if err := oauth2kit.CheckPath(path); err != nil {
			p.Add(field, "%v", err)
			continue
		}
		*dst = path
	}
	return m
}

func (c *config) pkceEnabled(p *sdk.ConfigError) bool {
	switch c.PKCE {
	case "", oauth2kit.PKCEMethodS256:
		return true
	case "none":
		return false
	}
	p.Add("pkce", "must be \"S256\" or \"none\", got %q", c.PKCE)
	return true
}

func (c *config) checkedIssuer(p *sdk.ConfigError) string {
	if c.Issuer != "" {
		if err := oauth2kit.CheckHTTPURL(c.Issuer); err != nil {
			p.Add("issuer", "%v", err)
		}
	}
	return c.Issuer
}

func (c *config) userInfoHTTPMethod(p *sdk.ConfigError) string {
	switch m := strings.ToUpper(c.UserInfoMethod); m {
	case "", http.MethodGet:
		return http.MethodGet
	case http.MethodPost:
		return http.MethodPost
	}
	p.Add("userInfoMethod", "must be \"GET\" or \"POST\", got %q", c.UserInfoMethod)
	return http.MethodGet
}

// httpClient checks the settings of the calls to the provider.
func (c *config) httpClient(p *sdk.ConfigError) *oauth2kit.HTTPClient {
	timeout, err := parseTimeout(c.RequestTimeout)
	if err != nil {
		p.Add("requestTimeout", "%v", err)
	}
	userAgent := c.UserAgent
	if userAgent == "" {
		userAgent = defaultUserAgent()
	} else if strings.ContainsFunc(userAgent, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		p.Add("userAgent", "must not contain control characters")
	}
	client, err := oauth2kit.NewHTTPClient(oauth2kit.HTTPOptions{
		Timeout:        timeout,
		UserAgent:      userAgent,
		CACertificates: c.CACertificates,
	})
	if err != nil {
		p.Add("caCertificates", "%v", err)
	}
	return client
}

// parseTimeout reads a Go duration string ("8s", "1500ms") or a number of seconds
// (8, 2.5, or "8").
func parseTimeout(raw json.RawMessage) (time.Duration, error) {
	if len(raw) == 0 {
		return defaultRequestTimeout, nil
	}
	d, ok := durationOf(raw)
	switch {
	case !ok:
		return 0, fmt.Errorf("must be a duration such as \"8s\" or a number of seconds")
	case d <= 0:
		return 0, fmt.Errorf("must be more than zero")
	case d > maxRequestTimeout:
		return 0, fmt.Errorf("must be at most %s, so that a slow provider is reported before the host's 10s call deadline", maxRequestTimeout)
	}
	return d, nil
}

func durationOf(raw json.RawMessage) (time.Duration, bool) {
	var text string
	if json.Unmarshal(raw, &text) == nil {
		if d, err := time.ParseDuration(text); err == nil {
			return d, true
		}
		raw = json.RawMessage(text)
	}
	var secs float64
	if json.Unmarshal(raw, &secs) != nil {
		return 0, false
	}
	// Saturate before converting: a float beyond int64 nanoseconds has no defined conversion.
	secs = math.Max(-1e6, math.Min(secs, 1e6))
	return time.Duration(secs * float64(time.Second)), true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
