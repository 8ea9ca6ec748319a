package oidcconnector

import (
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

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
