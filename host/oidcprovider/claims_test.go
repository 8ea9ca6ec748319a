package oidcprovider

import (
	"encoding/json"
	"testing"

	"github.com/idplug/idplug/host/mapping"
	"github.com/idplug/idplug/sdk"
)

// The attack: email_verified was read from the raw profile with a struct, and
// Go's decoder matches field names regardless of case, so a claim the user
// names ("Email_Verified": true, in a userinfo answer the oauth2 connector
// keeps as sent, or in the oidc connector's merged claims when the provider
// sends none) was taken for the provider's. The mapping reads
// raw.email_verified by its exact name and saw false or nothing, while the ID
// token said true: an operator mapping the email back (`email: raw.email`)
// issued an address the provider never verified as verified. It is now read
// by its exact name.
func TestMappingEmailVerifiedIsReadByItsExactName(t *testing.T) {
	m, err := mapping.Compile(mapping.Spec{
		Fields: map[string]string{"email": `raw.email`},
		Claims: map[string]string{"seen": `raw.?email_verified.orValue(null)`},
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, raw := range map[string]string{
		"oauth2 (as sent)":          `{"sub": "eve", "email": "ceo@victim.example", "email_verified": false, "Email_Verified": true}`,
		"oidc (merged, none given)": `{"Email_Verified": true, "email": "ceo@victim.example", "sub": "eve"}`,
	} {
		t.Run(name, func(t *testing.T) {
			res, err := m.Apply(t.Context(), sdk.UserInfo{ID: "eve", RawData: json.RawMessage(raw)})
			if err != nil {
				t.Fatal(err)
			}
			id := identityOf(Login{Instance: "c", UserInfo: res.UserInfo}, "c")
			if id.EmailVerified != nil && *id.EmailVerified && res.Claims["seen"] != true {
				t.Fatalf("the mapping sees email_verified = %v; the ID token says email %q, email_verified true",
					res.Claims["seen"], id.Email)
			}
		})
	}
}

// The attack: email_verified is the provider's word about the provider's
// email, yet it was issued beside whatever email the operator's mapping chose
// (here a profile field the user edits, work_email), so the host vouched for
// an address nobody verified. It now holds only when the issued email is the
// profile's exact "email"; otherwise it is false.
func TestMappingMappedEmailIsNotVouchedForByTheProvidersFlag(t *testing.T) {
	m, err := mapping.Compile(mapping.Spec{Fields: map[string]string{"email": `raw.?work_email.orValue(raw.email)`}})
	if err != nil {
		t.Fatal(err)
	}
	u := sdk.UserInfo{ID: "eve", Email: sdk.String("eve@gmail.example"),
		RawData: json.RawMessage(`{"sub": "eve", "email": "eve@gmail.example", "email_verified": true, "work_email": "ceo@victim.example"}`)}
	res, err := m.Apply(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	id := identityOf(Login{Instance: "oidc", UserInfo: res.UserInfo}, "oidc")
	if id.Email == "ceo@victim.example" && id.EmailVerified != nil && *id.EmailVerified {
		t.Fatalf("the ID token would carry email %q with email_verified true: the provider verified %q, not the mapped value",
			id.Email, *u.Email)
	}
}

// The rule, case by case: the provider's flag for the provider's email, false
// for any other, absent when the provider said nothing.
func TestEmailVerifiedVouchesForTheProvidersEmailOnly(t *testing.T) {
	for _, tc := range []struct {
		raw, email, want string
	}{
		{`{"email": "a@x.example", "email_verified": true}`, "a@x.example", "true"},
		{`{"email": "a@x.example", "email_verified": "true"}`, "a@x.example", "true"},
		{`{"email": "a@x.example", "email_verified": false}`, "a@x.example", "false"},
		{`{"email": "a@x.example", "email_verified": true}`, "b@x.example", "false"},
		{`{"email": "a@x.example", "email_verified": true}`, "A@x.example", "false"},
		{`{"email_verified": true}`, "a@x.example", "false"},
		{`{"email": 7, "email_verified": true}`, "a@x.example", "false"},
		{`{"Email": "b@x.example", "email": "a@x.example", "email_verified": true}`, "b@x.example", "false"},
		{`{"email": "a@x.example", "Email_Verified": true}`, "a@x.example", "absent"},
		{`{"email": "a@x.example", "EMAIL_VERIFIED": true, "email_verified": false}`, "a@x.example", "false"},
		{`{"email": "a@x.example"}`, "a@x.example", "absent"},
		{`{"email": "a@x.example"}`, "b@x.example", "absent"},
	} {
		got := "absent"
		if v := emailVerified(json.RawMessage(tc.raw), tc.email); v != nil {
			got = map[bool]string{true: "true", false: "false"}[*v]
		}
		if got != tc.want {
			t.Errorf("%s, issued %q: email_verified %s, want %s", tc.raw, tc.email, got, tc.want)
		}
	}
}
