package oauth2connector

import (
	"testing"
	"time"

	"github.com/idplug/idplug/host/hosttest"
	"github.com/idplug/idplug/sdk"
	"github.com/idplug/idplug/sdk/connectortest"
)

// kitOptions points a configuration with every optional feature of a sign-in
// (PKCE, storeTokens) at the test kit's fake provider.
func kitOptions(t *testing.T) connectortest.Options {
	p := connectortest.NewProvider(t)
	return connectortest.Options{
		// The deadline checks wait for it: shorter than the 10 s default keeps
		// the tests quick, and still far above what a call takes.
		CallTimeout: 5 * time.Second,
		ValidConfig: map[string]any{
			"authorizationEndpoint":   p.AuthorizationEndpoint(),
			"tokenEndpoint":           p.TokenEndpoint(),
			"userInfoEndpoint":        p.UserInfoEndpoint(),
			"clientId":                p.ClientID(),
			"clientSecret":            p.ClientSecret(),
			"tokenEndpointAuthMethod": "client_secret_basic",
			"scope":                   "openid profile",
			"storeTokens":             true,
			// The email only when the provider verified it.
			"profileMap": map[string]any{"emailVerified": "email_verified"},
		},
		Provider: p,
		WantUser: &sdk.UserInfo{
			ID:     "connectortest-user-1",
			Name:   sdk.String("Connie Tester"),
			Avatar: sdk.String("https://connectortest.example/avatar.png"),
			Email:  sdk.String("connie@connectortest.example"),
			Phone:  sdk.String("+15555550100"),
		},
	}
}

func TestKit(t *testing.T) {
	connectortest.Run(t, connectortest.Value(connector{}), kitOptions(t))
}

func TestKitBinary(t *testing.T) {
	connectortest.Run(t, hosttest.Binary(".."), kitOptions(t)) // ".." is the plugin's main package
}
