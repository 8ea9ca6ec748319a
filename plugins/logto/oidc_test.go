package main

import (
	"context"
	"net/url"
	"testing"

	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/internal/oidctest"
)

// TestOAuthAgainstARealProvider signs in through the host and Logto's OAuth 2.0
// connector against a real OpenID provider (oidc-provider on loopback), with each
// client authentication the connector offers.
func TestOAuthAgainstARealProvider(t *testing.T) {
	needBuild(t)
	secret := oidctest.NewClientSecret(t)
	const redirect = "http://127.0.0.1:1/callback/acme"
	op := oidctest.Start(t, oidctest.Config{Clients: []oidctest.Client{
		{ID: "basic", Secret: secret, AuthMethod: "client_secret_basic", RedirectURIs: []string{redirect}},
		{ID: "post", Secret: secret, AuthMethod: "client_secret_post", RedirectURIs: []string{redirect}},
	}})
	h := openHost(t, folder(t, nil, "oauth"))
	ctx := context.Background()
	want := oidctest.DefaultAccount()
	for _, client := range []string{"basic", "post"} {
		t.Run(client, func(t *testing.T) {
			err := h.Configure(ctx, []host.InstanceConfig{{ID: "acme", Plugin: "logto-oauth2", Config: mustJSON(t, map[string]any{
				"authorizationEndpoint":     op.AuthorizationEndpoint(),
				"tokenEndpoint":             op.TokenEndpoint(),
				"userInfoEndpoint":          op.UserinfoEndpoint(),
				"clientId":                  client,
				"clientSecret":              secret,
				"tokenEndpointAuthMethod":   "client_secret_" + client,
				"tokenEndpointResponseType": "json",
				"scope":                     "openid profile email",
				"profileMap":                map[string]any{"id": "sub", "name": "name", "email": "email", "avatar": "picture"},
			})}})
			if err != nil {
				t.Fatalf("Configure: %v", err)
			}
			auth, err := h.AuthorizationURI(ctx, "acme", redirect, "st-real-"+client)
			if err != nil {
				t.Fatal(err)
			}
			back, err := op.Authorize(ctx, auth.RedirectTo, redirect)
			if err != nil {
				t.Fatalf("the provider's authorization: %v", err)
			}
			res, err := h.UserInfo(ctx, "acme", auth.Session, queryMap(back))
			if err != nil {
				t.Fatalf("UserInfo: %v", err)
			}
			if p := res.UserInfo; p.ID != want.Sub || p.Name == nil || *p.Name != want.Claims["name"] || p.Email == nil || *p.Email != want.Claims["email"] {
				t.Errorf("profile = %s", show(p))
			}
			// The code was used: the provider refuses it the second time.
			_, err = h.UserInfo(ctx, "acme", auth.Session, queryMap(back))
			wantCode(t, "a used code", err, "social_auth_code_invalid")
			noLeak(t, "a used code", err, secret, queryMap(back))
		})
	}
}

func queryMap(u *url.URL) map[string]string {
	m := map[string]string{}
	for k, v := range u.Query() {
		m[k] = v[0]
	}
	return m
}
