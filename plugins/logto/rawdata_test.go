package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/idplug/idplug/internal/stubprovider"
)

// TestProfileCarriesNoSecretOfTheSignIn: apps receive a profile's rawData, and
// Logto's Apple connector returns the whole callback there, its authorization code
// and ID token in it; any connector may copy a provider's token answer there too.
// The bridge drops every rawData value that carries the sign-in's code, a token of
// its callback or a token a provider answered with, through fetch (the OAuth 2.0
// connector's ky) and node:https (got) alike, and keeps the rest; a profile
// field that carries one (an avatar URL with the token in its query) is left
// out.
func TestProfileCarriesNoSecretOfTheSignIn(t *testing.T) {
	t.Run("Apple's callback", func(t *testing.T) {
		apple := providerNamed(t, "apple")
		h, _, c := startProvider(t, apple)
		auth, cb := begin(t, h, apple, c, "st-apple-raw")
		res, err := h.UserInfo(context.Background(), "social", auth.Session, cb)
		if err != nil {
			t.Fatalf("UserInfo: %v", err)
		}
		raw := string(res.UserInfo.RawData)
		for _, k := range []string{"code", "id_token"} {
			if strings.Contains(raw, cb[k]) {
				t.Errorf("rawData carries the callback's %s: %s", k, keysOf(t, raw))
			}
		}
		wantKeys(t, raw, "state", "user")
	})

	t.Run("a token answer copied by got", func(t *testing.T) {
		google := providerNamed(t, "google")
		google.routes = func(s *stub, c *codes) {
			s.HandleFunc("/token", tokenRoute(c, google.secret, "ya29.google-access", stubprovider.Reply(400, "application/json", `{"error":"invalid_grant"}`)))
			s.HandleFunc("/v1/userinfo", bearer("ya29.google-access", map[string]any{
				"sub":            "110169484474386276334",
				"email":          "gita@gmail.com",
				"email_verified": true,
				"picture":        "https://lh3.googleusercontent.com/a/x?access_token=ya29.google-access",
				"echo":           "Bearer ya29.google-access",
				"seen":           []any{"kept", map[string]any{"token": "ya29.google-access"}},
			}))
		}
		h, _, c := startProvider(t, google)
		auth, cb := begin(t, h, google, c, "st-google-raw")
		res, err := h.UserInfo(context.Background(), "social", auth.Session, cb)
		if err != nil {
			t.Fatalf("UserInfo: %v", err)
		}
		if res.UserInfo.Avatar != nil {
			t.Errorf("the profile's avatar carries the access token; want it left out")
		}
		raw := string(res.UserInfo.RawData)
		if strings.Contains(raw, "ya29.google-access") {
			t.Errorf("rawData carries the access token the provider answered with: %s", keysOf(t, raw))
		}
		wantKeys(t, raw, "sub", "email", "seen")
		if !strings.Contains(raw, `"seen":["kept",{}]`) {
			t.Errorf("rawData = %s; want only the values carrying the token dropped", keysOf(t, raw))
		}
	})

	t.Run("a token answer copied by fetch", func(t *testing.T) {
		o := startOAuthStub(t, nil, 0)
		o.token.Store(`{"access_token":"oauth-access-5e1f","refresh_token":"oauth-refresh-91ab","token_type":"Bearer"}`)
		o.userinfo.Store(`{"id":"1","answer":{"access_token":"oauth-access-5e1f","refresh_token":"oauth-refresh-91ab"},"name":"Olga"}`)
		res, _, err := o.signIn(t)
		if err != nil {
			t.Fatalf("UserInfo: %v", err)
		}
		raw := string(res.UserInfo.RawData)
		if strings.Contains(raw, "oauth-access-5e1f") || strings.Contains(raw, "oauth-refresh-91ab") {
			t.Errorf("rawData carries a token the provider answered with: %s", keysOf(t, raw))
		}
		wantKeys(t, raw, "id", "answer", "name")
	})
}

// wantKeys fails unless the JSON object raw has every key in keys.
func wantKeys(t *testing.T, raw string, keys ...string) {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatalf("rawData %q: %v", raw, err)
	}
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Errorf("rawData lost %q, which carries no secret: keys %s", k, keysOf(t, raw))
		}
	}
}

// keysOf names rawData's keys, never its values (which may be the tokens).
func keysOf(t *testing.T, raw string) string {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return "(not a JSON object)"
	}
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return "keys " + strings.Join(ks, ", ")
}
