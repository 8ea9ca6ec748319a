package oidcconnector

import (
	"encoding/json"
	"maps"

	"github.com/idplug/idplug/sdk"
)

// mapProfile builds the profile from the ID token's claims, with the userinfo
// endpoint's (already checked to be about the same sub) filling what the ID token
// lacks, and, for Apple, the name its first callback carries in user. The id is
// sub, the subject the ID token's check verified. Claims are read by their exact
// names (OIDC Core 5.1): a JSON decoder's case-insensitive match would let a
// userinfo "ſub" (which folds to sub) pass for the subject. An email or a phone
// number is kept only when the provider says it verified it, as Logto does: an
// unverified address must not sign anyone into an account that has it.
func mapProfile(sub string, idToken, userInfo []byte, appleUser string) (sdk.UserInfo, error) {
	if sub == "" {
		return sdk.UserInfo{}, sdk.Errorf(sdk.CodeSocialIDTokenInvalid, "the ID token has no sub")
	}
	merged := map[string]json.RawMessage{}
	var userInfoClaims map[string]json.RawMessage
	if len(userInfo) > 0 {
		if err := json.Unmarshal(userInfo, &userInfoClaims); err != nil {
			return sdk.UserInfo{}, sdk.Errorf(sdk.CodeInvalidResponse, "the userinfo answer is not a JSON object")
		}
		maps.Copy(merged, userInfoClaims)
	}
	var fromToken map[string]json.RawMessage
	if err := json.Unmarshal(idToken, &fromToken); err != nil {
		return sdk.UserInfo{}, sdk.Errorf(sdk.CodeSocialIDTokenInvalid, "the ID token's claims are not a JSON object")
	}
	for k, v := range fromToken {
		merged[k] = v // the signed claims win
	}
	// An address and its flag come from the one source the profile takes
	// them from: merged claim by claim, the token's unverified email would
	// sit beside userinfo's email_verified for another address, and the
	// host, or a mapping reading raw.email_verified, would vouch for it.
	for _, pair := range [][2]string{{"email", "email_verified"}, {"phone_number", "phone_number_verified"}} {
		src := verifiedSource(fromToken, userInfoClaims, pair[0])
		if _, ok := src[pair[0]]; !ok {
			continue // no address on either side: a flag vouches for nothing
		}
		for _, k := range pair {
			if v, ok := src[k]; ok {
				merged[k] = v
			} else {
				delete(merged, k)
			}
		}
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
	// A claim of an unexpected type, or null, is left out.
	text := func(k string) *string {
		var s *string
		if v, ok := merged[k]; !ok || json.Unmarshal(v, &s) != nil {
			return nil
		}
		return s
	}
	u := sdk.UserInfo{ID: sub, Name: text("name"), Avatar: text("picture"), RawData: raw}
	if given, family := text("given_name"), text("family_name"); u.Name == nil && (given != nil || family != nil) {
		u.Name = sdk.String(joinName(given, family))
	}
	u.Email = verifiedClaim(fromToken, userInfoClaims, "email", "email_verified")
	u.Phone = verifiedClaim(fromToken, userInfoClaims, "phone_number", "phone_number_verified")
	return u, nil
}

// verifiedClaim is an address (email, phone_number) with the flag that vouches
// for it, both from one source: the ID token when it names an address, else the
// userinfo answer. A flag from one source says nothing of the other's address.
func verifiedClaim(fromToken, fromUserInfo map[string]json.RawMessage, name, flag string) *string {
	src := verifiedSource(fromToken, fromUserInfo, name)
	var address *string
	if json.Unmarshal(src[name], &address) != nil || address == nil {
		return nil
	}
	var v any
	_ = json.Unmarshal(src[flag], &v)
	if !verified(v) {
		return nil
	}
	return address
}

// verifiedSource is where the address name and its flag are read: the ID
// token when it names the address, else the userinfo answer.
func verifiedSource(fromToken, fromUserInfo map[string]json.RawMessage, name string) map[string]json.RawMessage {
	if _, ok := fromToken[name]; ok {
		return fromToken
	}
	return fromUserInfo
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
