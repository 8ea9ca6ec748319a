package kitconn

import (
	"testing"

	"github.com/idplug/idplug/sdk"
	"github.com/idplug/idplug/sdk/connectortest"
)

// KitOptions configures this connector against a fresh fake provider; the provider is in
// the options only when withProvider is set (the signin checks are skipped otherwise),
// but the endpoints always point at it, so that every exchange stays on loopback.
func KitOptions(t *testing.T, withProvider bool) connectortest.Options {
	p := connectortest.NewProvider(t)
	o := connectortest.Options{
		ValidConfig: map[string]any{
			"authorizationEndpoint": p.AuthorizationEndpoint(),
			"tokenEndpoint":         p.TokenEndpoint(),
			"userInfoEndpoint":      p.UserInfoEndpoint(),
			"clientId":              p.ClientID(),
			"clientSecret":          p.ClientSecret(),
			"scope":                 "profile",
			"prompt":                "login",
			"storeTokens":           true,
		},
		WantUser: &sdk.UserInfo{
			ID:     "connectortest-user-1",
			Name:   sdk.String("Connie Tester"),
			Avatar: sdk.String("https://connectortest.example/avatar.png"),
			Email:  sdk.String("connie@connectortest.example"),
			Phone:  sdk.String("+15555550100"),
		},
	}
	if withProvider {
		o.Provider = p
	}
	return o
}
