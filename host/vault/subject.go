package vault

import (
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/idplug/idplug/sdk"
)

// sameSubject tells whether a refreshed token set is still the signed-in user's:
// when both the stored and the refreshed set carry an ID token, the two must name
// the same issuer and subject (OpenID Connect Core 12.2). The connector verified
// the refreshed token's signature before returning it, and the stored one at
// sign-in, so reading their claims here needs no keys. A set without an ID token
// on either side has nothing to compare.
func sameSubject(stored, fresh string) error {
	if stored == "" || fresh == "" {
		return nil
	}
	was, okWas := idTokenSubject(stored)
	now, okNow := idTokenSubject(fresh)
	switch {
	case !okNow:
		return &sdk.Error{Code: sdk.CodeInvalidResponse,
			Message: "the refreshed ID token has no readable iss and sub claims"}
	case !okWas:
		// A stored token this code cannot read (an opaque one a connector kept)
		// gives nothing to compare with.
		return nil
	case was != now:
		return &sdk.Error{Code: sdk.CodeInvalidResponse,
			Message: "the provider's refresh answered with an ID token of another issuer or subject than the sign-in's (OpenID Connect Core 12.2); its tokens are not kept and the user must sign in again"}
	}
	return nil
}

// subject is an ID token's issuer and subject.
type subject struct{ iss, sub string }

// idTokenSubject reads iss and sub from a compact JWS's payload, by their exact
// names (a decoder folding case would read "Sub" or "ſub" as the subject).
func idTokenSubject(token string) (subject, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return subject{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return subject{}, false
	}
	var claims map[string]json.RawMessage
	if json.Unmarshal(payload, &claims) != nil {
		return subject{}, false
	}
	var s subject
	if json.Unmarshal(claims["iss"], &s.iss) != nil || json.Unmarshal(claims["sub"], &s.sub) != nil || s.iss == "" || s.sub == "" {
		return subject{}, false
	}
	return s, true
}
