package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/idplug/idplug/host/hosttest"
	"github.com/idplug/idplug/sdk"
	"github.com/idplug/idplug/sdk/connectortest"
)

// kitOptions points the connector at a fake provider laid out and answering like
// GitHub: its paths, form-encoded token answers, errors with HTTP 200, a numeric id,
// and the email address only in /user/emails.
func kitOptions(t *testing.T) connectortest.Options {
	p := connectortest.NewProvider(t,
		connectortest.WithPaths("/login/oauth/authorize", "/login/oauth/access_token", "/user"),
		connectortest.WithTokenFormat(connectortest.TokenForm),
		connectortest.WithTokenErrorStatus(http.StatusOK),
		connectortest.WithGrantedScope("read:user,user:email"),
		connectortest.WithProfile(`{"login":"octocat","id":12345678901,"avatar_url":"https://avatars.example/u/1","name":"The Octocat","email":null}`),
		// GitHub says whether it verified an address in /user/emails.
		connectortest.WithEmailVerifiedFieldIn("/user/emails", "[0].verified"),
	)
	p.SetResource("/user/emails", `[{"email":"octocat@github.com","verified":true,"primary":true,"visibility":"private"}]`)
	return connectortest.Options{
		// The deadline checks wait for it: shorter than the 10 s default keeps
		// the tests quick, and still far above what a call takes.
		CallTimeout: 5 * time.Second,
		ValidConfig: map[string]any{
			"clientId":     p.ClientID(),
			"clientSecret": p.ClientSecret(),
			"baseUrl":      p.URL,
			"apiUrl":       p.URL,
			"storeTokens":  true,
		},
		Provider: p,
		WantUser: &sdk.UserInfo{
			ID:     "12345678901",
			Name:   sdk.String("The Octocat"),
			Avatar: sdk.String("https://avatars.example/u/1"),
			Email:  sdk.String("octocat@github.com"),
		},
	}
}

func TestKit(t *testing.T) {
	connectortest.Run(t, connectortest.Value(connector{}), kitOptions(t))
}

func TestKitBinary(t *testing.T) {
	connectortest.Run(t, hosttest.Binary("."), kitOptions(t))
}
