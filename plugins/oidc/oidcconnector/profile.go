package oidcconnector

import (
	"encoding/json"

	"github.com/idplug/idplug/sdk"
)

// claims are the standard claims (OIDC Core 5.1) the profile is made of.
type claims struct {
	Sub                 string  `json:"sub"`
	Name                *string `json:"name"`
	GivenName           *string `json:"given_name"`
	FamilyName          *string `json:"family_name"`
	Picture             *string `json:"picture"`
	Email               *string `json:"email"`
	EmailVerified       any     `json:"email_verified"`
	PhoneNumber         *string `json:"phone_number"`
	PhoneNumberVerified any     `json:"phone_number_verified"`
}

// mapProfile builds the profile from the ID token's claims, with the userinfo
// endpoint's (already checked to be about the same sub) filling what the ID token
// lacks, and, for Apple, the name its first callback carries in user. An email or
// a phone number is kept only when the provider says it verified it, as Logto does:
// an unverified address must not sign anyone into an account that has it.
func mapProfile(idToken, userInfo []byte, appleUser string) (sdk.UserInfo, error) {
	merged := map[string]json.RawMessage{}
	if len(userInfo) > 0 {
		if err := json.Unmarshal(userInfo, &merged); err != nil {
			return sdk.UserInfo{}, sdk.Errorf(sdk.CodeInvalidResponse, "the userinfo answer is not a JSON object")
		}
	}
	var fromToken map[string]json.RawMessage
	if err := json.Unmarshal(idToken, &fromToken); err != nil {
		return sdk.UserInfo{}, sdk.Errorf(sdk.CodeSocialIDTokenInvalid, "the ID token's claims are not a JSON object")
	}
	for k, v := range fromToken {
		merged[k] = v // the signed claims win
	}
	if name := appleName(appleUser); name != "" {
		if _, has := merged["name"]; !has {
			merged["name"], _ = json.Marshal(name)
		}
	}
	raw, err := json.Marshal(merged)
	if err != nil {
		return sdk.UserInfo{}, sdk.Errorf(sdk.CodeGeneral, "cannot encode the profile: %v", err)
	}
	var c claims
	_ = json.Unmarshal(raw, &c) // claims of an unexpected type are left out
	if c.Sub == "" {
		return sdk.UserInfo{}, sdk.Errorf(sdk.CodeSocialIDTokenInvalid, "the ID token has no sub")
	}
	u := sdk.UserInfo{ID: c.Sub, Name: c.Name, Avatar: c.Picture, RawData: raw}
	if u.Name == nil && (c.GivenName != nil || c.FamilyName != nil) {
		u.Name = sdk.String(joinName(c.GivenName, c.FamilyName))
	}
	if c.Email != nil && verified(c.EmailVerified) {
		u.Email = c.Email
	}
	if c.PhoneNumber != nil && verified(c.PhoneNumberVerified) {
		u.Phone = c.PhoneNumber
	}
	return u, nil
}

// verified reads a *_verified claim: true, or "true" as Apple sends it.
func verified(v any) bool {
	return v == true || v == "true"
}

func joinName(given, family *string) string {
	var out string
	if given != nil {
		out = *given
	}
	if family != nil && *family != "" {
		if out != "" {
			out += " "
		}
		out += *family
	}
	return out
}

// appleName reads the name from the user field Apple posts with the first
// callback only: {"name":{"firstName":"...","lastName":"..."},"email":"..."}.
func appleName(user string) string {
	if user == "" {
		return ""
	}
	var u struct {
		Name struct {
			FirstName *string `json:"firstName"`
			LastName  *string `json:"lastName"`
		} `json:"name"`
	}
	if len(user) > 4096 || json.Unmarshal([]byte(user), &u) != nil {
		return ""
	}
	return joinName(u.Name.FirstName, u.Name.LastName)
}

// stringClaim reads one string member of a JSON object.
func stringClaim(raw []byte, name string) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return ""
	}
	var s string
	_ = json.Unmarshal(m[name], &s)
	return s
}
