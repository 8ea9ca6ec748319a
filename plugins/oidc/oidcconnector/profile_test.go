package oidcconnector

import (
	"encoding/json"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// TestOnlyAppleReadsTheUserField: the callback's "user" field is Apple's, posted
// by the browser unsigned with the first sign-in. For another provider a browser
// adding one would name itself: with an ID token that has no name claim, its
// name won over given_name and family_name.
func TestOnlyAppleReadsTheUserField(t *testing.T) {
	s := newStubOP(t)
	in := parse(t, s.config(nil))
	res, err := s.signInWith(t, in, func(n string) string {
		c := without(s.claims(n), "name")
		c["given_name"], c["family_name"] = "Eve", "Example"
		return sign(t, c, jose.RS256, s.key, s.kid)
	}, map[string]string{"user": `{"name":{"firstName":"Chief","lastName":"Executive"}}`})
	if err != nil {
		t.Fatal(err)
	}
	if n := res.UserInfo.Name; n == nil || *n != "Eve Example" {
		t.Fatalf("name = %v, want the provider's \"Eve Example\", not the callback's", deref(n))
	}
}

// TestAVerifiedFlagVouchesOnlyForItsOwnAddress: with the userinfo answer merged,
// an email or phone number and its *_verified flag are taken from one source. A
// flag in the userinfo answer speaks of its own address, not of an unverified one
// in the ID token (and the other way round).
func TestAVerifiedFlagVouchesOnlyForItsOwnAddress(t *testing.T) {
	s := newStubOP(t)
	in := parse(t, s.config(map[string]any{"fetchUserInfo": true}))
	for name, tc := range map[string]struct {
		token, userInfo map[string]any
		email, phone    string // "" for none
	}{
		"unverified in the token, a verified other in userinfo": {
			token:    map[string]any{"email": "ceo@victim.example", "phone_number": "+15550001"},
			userInfo: map[string]any{"email": "eve@attacker.example", "email_verified": true, "phone_number": "+15550002", "phone_number_verified": true},
		},
		"a flag in the token, the address only in userinfo": {
			token:    map[string]any{"email_verified": true, "phone_number_verified": true},
			userInfo: map[string]any{"email": "ceo@victim.example", "phone_number": "+15550001"},
		},
		"verified in the token": {
			token:    map[string]any{"email": "eve@example.com", "email_verified": true},
			userInfo: map[string]any{"email": "other@example.com", "email_verified": false},
			email:    "eve@example.com",
		},
		"verified in userinfo, none in the token": {
			token:    map[string]any{},
			userInfo: map[string]any{"email": "eve@example.com", "email_verified": "true", "phone_number": "+15550003", "phone_number_verified": true},
			email:    "eve@example.com", phone: "+15550003",
		},
	} {
		t.Run(name, func(t *testing.T) {
			s.userInfo = map[string]any{"sub": "user-1"}
			for k, v := range tc.userInfo {
				s.userInfo[k] = v
			}
			res, err := s.signIn(t, in, func(n string) string {
				c := without(without(s.claims(n), "email"), "email_verified")
				for k, v := range tc.token {
					c[k] = v
				}
				return sign(t, c, jose.RS256, s.key, s.kid)
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := deref(res.UserInfo.Email); (tc.email == "" && res.UserInfo.Email != nil) || (tc.email != "" && got != tc.email) {
				t.Errorf("email = %s, want %q", got, tc.email)
			}
			if got := deref(res.UserInfo.Phone); (tc.phone == "" && res.UserInfo.Phone != nil) || (tc.phone != "" && got != tc.phone) {
				t.Errorf("phone = %s, want %q", got, tc.phone)
			}
		})
	}
}

// TestUserinfoCannotVouchForTheTokensEmail: the raw data the host reads (its
// email_verified, and mappings such as raw.email_verified == true) holds each
// address with the flag of its own source, the one the profile takes it from.
// Merged claim by claim, the ID token's unverified ceo@victim.example sat
// beside userinfo's email_verified for eve@attacker.example.
func TestUserinfoCannotVouchForTheTokensEmail(t *testing.T) {
	for name, tc := range map[string]struct {
		token, userInfo string
		want            map[string]any // the four claims in raw data; absent when not listed
	}{
		"unverified in the token, a verified other in userinfo": {
			token:    `{"sub":"u","email":"ceo@victim.example","phone_number":"+15550001"}`,
			userInfo: `{"sub":"u","email":"eve@attacker.example","email_verified":true,"phone_number":"+15550002","phone_number_verified":true}`,
			want:     map[string]any{"email": "ceo@victim.example", "phone_number": "+15550001"},
		},
		"a flag in the token, the address only in userinfo": {
			token:    `{"sub":"u","email_verified":true,"phone_number_verified":"true"}`,
			userInfo: `{"sub":"u","email":"ceo@victim.example","phone_number":"+15550001"}`,
			want:     map[string]any{"email": "ceo@victim.example", "phone_number": "+15550001"},
		},
		"verified in the token, another unverified in userinfo": {
			token:    `{"sub":"u","email":"eve@example.com","email_verified":true}`,
			userInfo: `{"sub":"u","email":"other@example.com","email_verified":false,"phone_number":"+15550003","phone_number_verified":true}`,
			want:     map[string]any{"email": "eve@example.com", "email_verified": true, "phone_number": "+15550003", "phone_number_verified": true},
		},
		"no address on either side": {
			token:    `{"sub":"u","email_verified":true}`,
			userInfo: `{"sub":"u","email_verified":false}`,
			want:     map[string]any{"email_verified": true},
		},
	} {
		t.Run(name, func(t *testing.T) {
			u, err := mapProfile("u", []byte(tc.token), []byte(tc.userInfo), "")
			if err != nil {
				t.Fatal(err)
			}
			var raw map[string]any
			if err := json.Unmarshal(u.RawData, &raw); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"email", "email_verified", "phone_number", "phone_number_verified"} {
				got, has := raw[k]
				want, wanted := tc.want[k]
				if has != wanted || got != want {
					t.Errorf("raw data %s = %v (present: %t), want %v (present: %t); raw data %s", k, got, has, want, wanted, u.RawData)
				}
			}
		})
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
