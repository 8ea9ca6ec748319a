package oidcconnector

import (
	"testing"
	"time"

	"github.com/idplug/idplug/host/hosttest"
	"github.com/idplug/idplug/sdk"
	"github.com/idplug/idplug/sdk/connectortest"
)

// kitOptions is a Logto-style configuration (endpoints given one by one), with
// no provider behind it: the configuration checks. kitSignInOptions signs in
// through the kit's fake provider, an OpenID Provider too.
func kitOptions() connectortest.Options {
	return connectortest.Options{
		// The deadline checks wait for it: shorter than the 10 s default keeps
		// the tests quick, and still far above what a call takes.
		CallTimeout: 5 * time.Second,
		ValidConfig: map[string]any{
			"authorizationEndpoint": "https://id.example.com/authorize",
			"tokenEndpoint":         "https://id.example.com/token",
			"clientId":              "kit-client",
			"clientSecret":          "kit-secret",
			"scope":                 "openid profile",
			"idTokenVerificationConfig": map[string]any{
				"jwksUri": "https://id.example.com/jwks", "issuer": "https://id.example.com",
			},
		},
		FormValues: map[string]any{
			"provider":                   "",
			"issuer":                     "https://id.example.com",
			"tenant":                     nil,
			"allowedTenants":             nil,
			"teamId":                     nil,
			"endpointHosts":              []string{"tokens.example.com"},
			"privateKey":                 nil,
			"privateKeyId":               nil,
			"privateKeySigningAlgorithm": nil,
		},
	}
}

// kitSignInOptions point the configuration at the kit's fake provider, made an
// OpenID Provider (connectortest.WithIDTokens), so that the kit's sign-in checks
// run too, those of ID tokens among them.
func kitSignInOptions(t *testing.T) connectortest.Options {
	p := connectortest.NewProvider(t, connectortest.WithIDTokens())
	o := kitOptions()
	o.Provider = p
	o.FormValues["issuer"] = p.Issuer()
	// connectortest.DefaultProfile's, as its ID token carries them.
	o.WantUser = &sdk.UserInfo{ID: "connectortest-user-1", Name: sdk.String("Connie Tester"), Email: sdk.String("connie@connectortest.example")}
	o.ValidConfig = map[string]any{
		"authorizationEndpoint": p.AuthorizationEndpoint(),
		"tokenEndpoint":         p.TokenEndpoint(),
		"userInfoEndpoint":      p.UserInfoEndpoint(),
		"clientId":              p.ClientID(),
		"clientSecret":          p.ClientSecret(),
		"scope":                 "openid profile",
		"storeTokens":           true,
		"idTokenVerificationConfig": map[string]any{
			"jwksUri": p.JWKSURI(), "issuer": p.Issuer(),
		},
	}
	return o
}

func TestKit(t *testing.T) {
	connectortest.Run(t, connectortest.Value(connector{}), kitSignInOptions(t))
}

func TestKitBinary(t *testing.T) {
	connectortest.Run(t, hosttest.Binary(".."), kitSignInOptions(t)) // ".." is the plugin's main package
}
