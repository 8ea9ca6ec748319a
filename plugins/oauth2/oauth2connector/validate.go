package oauth2connector

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/idplug/idplug/sdk"
	"github.com/idplug/idplug/sdk/oauth2kit"
)

const (
	// defaultRequestTimeout (and oauth2kit.MaxRequestTimeout) keep every provider call
	// inside the host's 10s call deadline, so a slow provider is reported as provider_timeout.
	defaultRequestTimeout = oauth2kit.DefaultRequestTimeout
)

func (c *config) checkEndpoints(p *sdk.ConfigError) {
	for _, e := range []struct{ field, value string }{
		{"authorizationEndpoint", c.AuthorizationEndpoint},
		{"tokenEndpoint", c.TokenEndpoint},
		{"userInfoEndpoint", c.UserInfoEndpoint},
	} {
		if e.value == "" {
			p.Add(e.field, "is required")
		} else if err := oauth2kit.CheckSecureURL(e.value); err != nil {
			p.Add(e.field, "%v", err)
		}
	}
	if c.RevocationEndpoint != "" {
		if err := oauth2kit.CheckSecureURL(c.RevocationEndpoint); err != nil {
			p.Add("revocationEndpoint", "%v", err)
		}
	}
}

// profileFields are the profile fields profileMap may map.
var profileFields = []string{"id", "name", "avatar", "email", "emailVerified", "phone"}

// profileMapping applies profileMap over the defaults. An empty path for an optional
// field turns that field off.
func (c *config) profileMapping(p *sdk.ConfigError) oauth2kit.ProfileMap {
	m := oauth2kit.DefaultProfileMap()
	targets := map[string]*string{"id": &m.ID, "name": &m.Name, "avatar": &m.Avatar, "email": &m.Email, "emailVerified": &m.EmailVerified, "phone": &m.Phone}
	for _, key := range slices.Sorted(maps.Keys(c.ProfileMap)) {
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

func (c *config) checkedIssuer(p *sdk.ConfigError) string {
	if c.Issuer != "" {
		if err := oauth2kit.CheckSecureURL(c.Issuer); err != nil {
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
