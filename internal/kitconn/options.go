package kitconn

import (
	"testing"
	"time"

	"github.com/idplug/idplug/sdk"
	"github.com/idplug/idplug/sdk/connectortest"
)

// KitOptions configures this connector against a fresh fake provider; the provider is in
// the options only when withProvider is set (the signin checks are skipped otherwise),
// but the endpoints always point at it, so that every exchange stays on loopback.
// RequestTimeout bounds each of the connector's requests to the provider.
const RequestTimeout = 2 * time.Second

func KitOptions(t *testing.T, withProvider bool) connectortest.Options {
	p := connectortest.NewProvider(t, connectortest.WithIDTokens())
	o := connectortest.Options{
		ValidConfig: map[string]any{
			"authorizationEndpoint": p.AuthorizationEndpoint(),
			"tokenEndpoint":         p.TokenEndpoint(),
			"userInfoEndpoint":      p.UserInfoEndpoint(),
			"clientId":              p.ClientID(),
			"clientSecret":          p.ClientSecret(),
			"scope":                 "openid profile",
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
		// Short, so that signin/timeout takes seconds, not ten; above RequestTimeout,
		// so that a slow provider is reported before the host gives up on the call.
		CallTimeout: 3 * time.Second,
	}
	if withProvider {
		o.Provider = p
	}
	return o
}
