package process

import (
	"encoding/json"
	"fmt"

	connectorv1 "github.com/idplug/idplug/proto/gen/idplug/connector/v1"
	"github.com/idplug/idplug/sdk"
)

// A plugin's answer carries values the wire does not check but the host must
// write as JSON (the /v1 answers, the sessions and records made of a profile):
// rawData is bytes, an expiry any timestamp. One the host cannot write is the
// plugin's fault, said as invalid_response when the answer is decoded, not an
// encoding failure later (an empty "200 OK" after the flow was spent). The
// metadata's JSON values (form items' defaults) are checked by checkMetadata.

// Bounds on what an answer puts into the store (a browser session holds the
// profile, the vault a token set per user): the 4 MiB reply limit alone let a
// plugin write megabytes at every sign-in it finished. They are several times
// what providers send: a GitHub profile with a thousand organizations is some
// 500 KB, a Microsoft access token with group claims some 8 KB.
const (
	maxRawData   = 1 << 20
	maxToken     = 64 << 10 // each of the access, refresh and ID tokens
	maxScope     = 8 << 10
	maxTokenType = 64
	// maxProfileText bounds each of the name, avatar URL, email and phone:
	// a session holds them, and a 4 MiB name from a plugin would be a 4 MiB
	// session row at every sign-in.
	maxProfileText = 16 << 10
)

// checkUserInfo checks the profile and tokens of a GetUserInfo answer.
func (p *Process) checkUserInfo(resp *connectorv1.GetUserInfoResponse) error {
	u := resp.GetUserInfo()
	switch {
	case u == nil:
		// The SDK never answers so; a plugin written without it may, and
		// the profile's fields were read through a nil pointer.
		return p.invalidResponse("GetUserInfo", "no profile")
	case u.GetId() == "":
		// Every sign-in without an id would be the same user's.
		return p.invalidResponse("GetUserInfo", "a profile without an id")
	}
	for _, f := range []struct{ name, value string }{
		{"name", u.GetName()}, {"avatar", u.GetAvatar()}, {"email", u.GetEmail()}, {"phone", u.GetPhone()},
	} {
		if len(f.value) > maxProfileText {
			return p.invalidResponse("GetUserInfo", fmt.Sprintf("a profile %s of %d bytes (at most %d)", f.name, len(f.value), maxProfileText))
		}
	}
	raw := u.GetRawDataJson()
	switch {
	case len(raw) > maxRawData:
		return p.invalidResponse("GetUserInfo", fmt.Sprintf("a rawData of %d bytes (at most %d)", len(raw), maxRawData))
	case len(raw) > 0 && !json.Valid(raw):
		return p.invalidResponse("GetUserInfo", "a rawData that is not JSON")
	}
	return p.checkTokens("GetUserInfo", resp.GetTokens())
}

// checkRefreshed checks a RefreshTokens answer: a token set with an access
// token (RFC 6749 5.1), within checkTokens' bounds. An answer of no tokens
// and no error had reached the vault as a nil set, and the host's process
// with it.
func (p *Process) checkRefreshed(t *connectorv1.TokenSet) error {
	switch {
	case t == nil:
		return p.invalidResponse("RefreshTokens", "no token set")
	case t.GetAccessToken() == "":
		return p.invalidResponse("RefreshTokens", "a token set without an access token")
	}
	return p.checkTokens("RefreshTokens", t)
}

// checkTokens checks a token set's sizes, and its expiry: JSON (RFC 3339)
// writes years 1 to 9999 only.
func (p *Process) checkTokens(method string, t *connectorv1.TokenSet) error {
	for _, f := range []struct {
		name  string
		value string
		most  int
	}{
		{"access token", t.GetAccessToken(), maxToken}, {"refresh token", t.GetRefreshToken(), maxToken},
		{"ID token", t.GetIdToken(), maxToken}, {"scope", t.GetScope(), maxScope}, {"token type", t.GetTokenType(), maxTokenType},
	} {
		if len(f.value) > f.most {
			return p.invalidResponse(method, fmt.Sprintf("a %s of %d bytes (at most %d)", f.name, len(f.value), f.most))
		}
	}
	if at := t.GetExpiresAt(); at != nil {
		if err := at.CheckValid(); err != nil {
			return p.invalidResponse(method, fmt.Sprintf("a token expiry the host cannot write (%v)", err))
		}
	}
	return nil
}

func (p *Process) invalidResponse(method, what string) *sdk.Error {
	return &sdk.Error{Code: sdk.CodeInvalidResponse, Message: fmt.Sprintf("plugin %s answered %s with %s", p.name, method, what)}
}
