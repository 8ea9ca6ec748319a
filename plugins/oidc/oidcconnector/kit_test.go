package oidcconnector

import (
	"testing"
	"time"

	"github.com/idplug/idplug/host/hosttest"
	"github.com/idplug/idplug/sdk/connectortest"
)

// kitOptions is a Logto-style configuration (endpoints given one by one). The kit's
// fake provider speaks OAuth 2.0 without ID tokens, so its sign-in checks are left
// to provider_test.go, which signs in against a real OpenID Provider.
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

func TestKit(t *testing.T) {
	connectortest.Run(t, connectortest.Value(connector{}), kitOptions())
}

func TestKitBinary(t *testing.T) {
	connectortest.Run(t, hosttest.Binary(".."), kitOptions()) // ".." is the plugin's main package
}
