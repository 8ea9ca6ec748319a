package oauth2connector

import (
	"context"
	"errors"
	"testing"

	"github.com/idplug/idplug/sdk"
)

// FuzzParseConfig: any input gives an instance or a configuration error, never a panic.
func FuzzParseConfig(f *testing.F) {
	for _, seed := range []string{
		logtoConfig,
		`{}`, `null`, `[]`, `{"clientId":1}`, `{"customConfig":{"state":"x"}}`,
		`{"profileMap":{"id":"a..b","x":"y"},"requestTimeout":1e309}`,
		`{"tokenEndpointAuthMethod":"private_key_jwt","privateKey":"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"}`,
		`{"caCertificates":"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----","requestTimeout":"1h"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		in, err := parseConfig(raw)
		var ce *sdk.ConfigError
		var se *sdk.Error
		switch {
		case err == nil && in == nil:
			t.Fatal("no instance and no error")
		case err != nil && !errors.As(err, &ce) && !errors.As(err, &se):
			t.Fatalf("error %v (%T) is neither a ConfigError nor an sdk.Error", err, err)
		case ce != nil && len(ce.Fields) == 0:
			t.Fatal("a ConfigError without fields")
		}
	})
}

// FuzzCallback sends arbitrary callbacks and sessions through UserInfo against a
// stub provider: the answer is a profile or an *sdk.Error, and a profile only comes
// from a callback whose state matches its session.
func FuzzCallback(f *testing.F) {
	for _, seed := range []struct{ state, sessionState, code, errCode, iss, redirect, verifier string }{
		{"s", "s", "c", "", "", testRedirectURI, "v"},
		{"s", "s", "", "access_denied", "", testRedirectURI, ""},
		{"s", "t", "c", "", "", testRedirectURI, ""},
		{"", "", "c", "", "", "", ""},
		{"s", "s", "c", "", "https://evil", "/relative", "\x00"},
	} {
		f.Add(seed.state, seed.sessionState, seed.code, seed.errCode, seed.iss, seed.redirect, seed.verifier)
	}
	p := newStubProvider(f)
	in := mustParse(f, p.config(nil))
	f.Fuzz(func(t *testing.T, state, sessionState, code, errCode, iss, redirect, verifier string) {
		res, err := connector{}.UserInfo(context.Background(), in, sdk.UserInfoRequest{
			Session:  sdk.Session{"state": sessionState, "redirectUri": redirect, "codeVerifier": verifier},
			Callback: map[string]string{"state": state, "code": code, "error": errCode, "iss": iss},
		})
		if err != nil {
			var e *sdk.Error
			if !errors.As(err, &e) || e.Code == "" {
				t.Fatalf("error %v (%T) is not an *sdk.Error", err, err)
			}
			return
		}
		if res == nil || res.UserInfo.ID == "" || state != sessionState || state == "" || code == "" || errCode != "" {
			t.Fatalf("signed in from callback state=%q code=%q error=%q against session state %q", state, code, errCode, sessionState)
		}
	})
}
