package main

import (
	"testing"

	"github.com/idplug/idplug/sdk"
	"github.com/idplug/idplug/sdk/connectortest"
)

// TestKitOAuth runs the SDK's contract kit through the host against Logto's OAuth 2.0
// connector (@logto/connector-oauth), unchanged, behind the bridge.
func TestKitOAuth(t *testing.T) {
	bin := testPluginFile(t, "oauth")
	p := connectortest.NewProvider(t)
	connectortest.Run(t, connectortest.Binary(bin), connectortest.Options{
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
		Sandbox:  testSandbox(""),
		WantUser: &sdk.UserInfo{
			ID:     "connectortest-user-1",
			Name:   sdk.String("Connie Tester"),
			Avatar: sdk.String("https://connectortest.example/avatar.png"),
			Email:  sdk.String("connie@connectortest.example"),
			Phone:  sdk.String("+15555550100"),
		},
	})
}
