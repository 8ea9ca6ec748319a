package oauth2connector

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/idplug/idplug/internal/stubprovider"
	"github.com/idplug/idplug/sdk"
)

// stub is the shared stub provider, serving a token and a userinfo endpoint, with
// this connector's configuration for it. It shows the quirks a standards-following
// server does not: a test changes an endpoint's answer with Handle.
type stub struct{ *stubprovider.Provider }

// newStubProvider answers as a provider that behaves does: a JSON token, and an
// OpenID Connect style profile.
func newStubProvider(t testing.TB) stub {
	t.Helper()
	p := stubprovider.New(t)
	p.Handle("/token", stubprovider.Reply(200, "application/json", `{"access_token":"AT-1","token_type":"Bearer","expires_in":3600,"refresh_token":"RT-1","scope":"openid"}`))
	p.Handle("/userinfo", stubprovider.Reply(200, "application/json", `{"id":"u-1","name":"Ann","avatar":"https://a/1.png","email":"ann@example.com","phone":"+100"}`))
	return stub{p}
}

// config returns a working configuration for the stub, with overrides applied
// (a nil value deletes the key).
func (p stub) config(overrides map[string]any) map[string]any {
	cfg := map[string]any{
		"authorizationEndpoint": p.URL() + "/authorize",
		"tokenEndpoint":         p.URL() + "/token",
		"userInfoEndpoint":      p.URL() + "/userinfo",
		"clientId":              "client-1",
		"clientSecret":          testSecret,
		"scope":                 "openid profile",
	}
	for k, v := range overrides {
		if v == nil {
			delete(cfg, k)
		} else {
			cfg[k] = v
		}
	}
	return cfg
}

// testSecret is 64 bytes: long enough for every client_secret_jwt algorithm.
var testSecret = strings.Repeat("Secret-7", 8)

const testRedirectURI = "https://app.example.com/callback/acme"

func mustParse(t testing.TB, cfg map[string]any) *Instance {
	t.Helper()
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	in, err := parseConfig(raw)
	if err != nil {
		t.Fatalf("parseConfig: %v", err)
	}
	return in
}

// signIn runs AuthorizationURI, then UserInfo with a callback made by edit from a
// good one (state from the session, code "CODE-1").
func signIn(t *testing.T, in *Instance, edit func(callback map[string]string, session sdk.Session)) (*sdk.Authorization, *sdk.UserInfoResult, error) {
	t.Helper()
	ctx := context.Background()
	auth, err := connector{}.AuthorizationURI(ctx, in, sdk.AuthorizationRequest{InstanceID: "acme", RedirectURI: testRedirectURI, State: "STATE-1"})
	if err != nil {
		t.Fatalf("AuthorizationURI: %v", err)
	}
	callback := map[string]string{"code": "CODE-1", "state": auth.Session["state"]}
	session := sdk.Session{}
	for k, v := range auth.Session {
		session[k] = v
	}
	if edit != nil {
		edit(callback, session)
	}
	res, err := connector{}.UserInfo(ctx, in, sdk.UserInfoRequest{InstanceID: "acme", Session: session, Callback: callback})
	return auth, res, err
}

func wantCode(t *testing.T, err error, code sdk.ErrorCode) *sdk.Error {
	t.Helper()
	var e *sdk.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v (%T), want an *sdk.Error with code %s", err, err, code)
	}
	if e.Code != code {
		t.Fatalf("code = %s, want %s (message: %s)", e.Code, code, e.Message)
	}
	return e
}

// wantNoSecrets fails when the error's message or details hold a secret, the code
// or a token of the stub's default answers.
func wantNoSecrets(t *testing.T, err error) {
	t.Helper()
	e := sdk.AsError(err)
	details, _ := json.Marshal(e.Details)
	for _, s := range []string{testSecret, "CODE-1", "AT-1", "RT-1", "STATE-1"} {
		if strings.Contains(e.Message, s) || strings.Contains(string(details), s) {
			t.Errorf("error leaks %q: %s %s", s, e.Message, details)
		}
	}
}

// accepted says whether parseConfig accepts raw.
func accepted(raw []byte) bool {
	_, err := parseConfig(raw)
	return err == nil
}
