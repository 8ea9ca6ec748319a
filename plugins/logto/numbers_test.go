package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/idplug/idplug/sdk"
)

// TestNumericIDsPastTwoToThe53: Logto's OAuth 2.0 connector reads the profile with
// JavaScript numbers, so the numeric id 9007199254740993 came back as
// 9007199254740992, another user's (every id of 64 bits shares its number with some
// 2048 others): a sign-in as someone else. The bridge refuses such a profile; ids
// that numbers hold exactly, and ids sent as strings, sign in as before.
func TestNumericIDsPastTwoToThe53(t *testing.T) {
	o := startOAuthStub(t, nil, 0)
	var padding strings.Builder // more inexact numbers than the bridge notes one by one
	for k := range uint64(70) {
		fmt.Fprintf(&padding, "%d,", uint64(9007199254740993)+4*k)
	}
	for _, tc := range []struct {
		what, body, want string // want "" when the sign-in must fail
	}{
		{"a numeric id past 2^53", `{"id":9007199254740993,"name":"Big"}`, ""},
		{"a negative one", `{"id":-9007199254740993}`, ""},
		{"one after many other such numbers", `{"other":[` + padding.String() + `1],"id":18446744073709551615}`, ""},
		{"2^53, which a number holds", `{"id":9007199254740992}`, "9007199254740992"},
		{"the id as a string", `{"id":"9007199254740993","n":12345678901234567890}`, "9007199254740993"},
		{"a small numeric id", `{"id":583231}`, "583231"},
	} {
		t.Run(tc.what, func(t *testing.T) {
			o.userinfo.Store(tc.body)
			res, cb, err := o.signIn(t)
			if tc.want != "" {
				if err != nil || res.UserInfo.ID != tc.want {
					t.Fatalf("UserInfo for %s = %+v, %v; want the id %s", tc.body, res, err, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("UserInfo for %s signed in as %q: digits were lost, this is another user's id", tc.body, res.UserInfo.ID)
			}
			wantCode(t, tc.what, err, sdk.CodeInvalidResponse)
			noLeak(t, tc.what, err, oauthStubSecret, cb)
		})
	}
}

// TestTokenLifetimesPastWhatADateHolds: a token's expires_in whose end is past the
// year 9999 failed the sign-in the provider had answered: the plugin could not read
// the date (RFC 3339 has four digits of year), or, past some 285,000 years, the
// bridge threw making it. Such a lifetime is left out, as none is.
func TestTokenLifetimesPastWhatADateHolds(t *testing.T) {
	o := startOAuthStub(t, map[string]any{"storeTokens": true}, 0)
	for _, tc := range []struct {
		expiresIn string
		want      time.Duration // 0: no expiry
	}{
		{"3600", time.Hour},
		{"1e12", 0},
		{"1e14", 0},
	} {
		t.Run(tc.expiresIn, func(t *testing.T) {
			o.token.Store(`{"access_token":"oauth-access-5e1f","token_type":"Bearer","expires_in":` + tc.expiresIn + `}`)
			res, _, err := o.signIn(t)
			if err != nil {
				t.Fatalf("a sign-in whose token lives %s s: %v", tc.expiresIn, err)
			}
			if res.Tokens == nil || res.Tokens.AccessToken != "oauth-access-5e1f" {
				t.Fatalf("tokens = %+v", res.Tokens)
			}
			at := res.Tokens.ExpiresAt
			switch {
			case tc.want == 0 && !at.IsZero():
				t.Errorf("expiresAt = %s; want none", at)
			case tc.want != 0 && (at.Before(time.Now().Add(tc.want-time.Minute)) || at.After(time.Now().Add(tc.want+time.Minute))):
				t.Errorf("expiresAt = %s; want about %s from now", at, tc.want)
			}
		})
	}
}
