package main

import (
	"testing"

	"github.com/idplug/idplug/host/hosttest"
	"github.com/idplug/idplug/sdk"
	"github.com/idplug/idplug/sdk/connectortest"
)

// TestKitOAuth runs the SDK's contract kit through the host against Logto's OAuth 2.0
// connector (@logto/connector-oauth), unchanged, behind the bridge.
func TestKitOAuth(t *testing.T) {
	bin := testPluginFile(t, "oauth")
	p := connectortest.NewProvider(t)
	connectortest.Run(t, hosttest.Options{Sandbox: testSandbox("")}.Binary(bin), connectortest.Options{
		ValidConfig: map[string]any{
			"authorizationEndpoint":     p.AuthorizationEndpoint(),
			"tokenEndpoint":             p.TokenEndpoint(),
			"userInfoEndpoint":          p.UserInfoEndpoint(),
			"clientId":                  p.ClientID(),
			"clientSecret":              p.ClientSecret(),
			"tokenEndpointAuthMethod":   "client_secret_basic",
			"tokenEndpointResponseType": "json",
			"scope":                     "openid profile",
			"storeTokens":               true,
		},
		Provider: p,
		Skip: map[string]string{
			// A known loss of Logto's: its connectors parse the profile with
			// JavaScript numbers, so 9007199254740993 would come back ...992, another
			// user's id; the bridge refuses such a profile (TestNumericIDsPastTwoToThe53).
			"signin/numeric-id": "Logto's connectors read numeric ids above 2^53 as JavaScript numbers and lose digits: the bridge refuses the sign-in (invalid_response) rather than return another user's id",
			// Its profileMap has no field for a verification flag: it maps the email
			// whatever the provider says, and the connector cannot be changed.
			"signin/unverified-email": "Logto's OAuth 2.0 connector maps the email with no verification field, so it returns an unverified address",
			// Its authorization URL has no code_challenge, and it has no setting
			// for one (plugins/oauth2, which mirrors its configuration, does PKCE).
			"signin/pkce": "Logto's OAuth 2.0 connector sends no PKCE challenge and has no setting for one",
		},
		WantUser: &sdk.UserInfo{
			ID:     "connectortest-user-1",
			Name:   sdk.String("Connie Tester"),
			Avatar: sdk.String("https://connectortest.example/avatar.png"),
			Email:  sdk.String("connie@connectortest.example"),
			Phone:  sdk.String("+15555550100"),
		},
	})
}
