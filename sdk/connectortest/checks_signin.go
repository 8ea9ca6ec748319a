package connectortest

import (
	"encoding/json"
	"fmt"

	"github.com/idplug/idplug/sdk"
)

// signIn runs a sign-in through the fake provider up to the callback, and returns the
// session and the callback that UserInfo gets.
func (k *kit) signIn(t T) (sdk.Session, map[string]string, bool) {
	t.Helper()
	state := newState()
	auth, err := k.authorize(t, state, k.opts.redirectURI())
	if err != nil {
		if !k.defective(t, "AuthorizationURI", err) {
			t.Errorf("AuthorizationURI failed: %s", describe(err))
		}
		return nil, nil, false
	}
	callback, err := k.opts.Provider.Authorize(auth.RedirectTo)
	if err != nil {
		t.Errorf("the fake provider refused the authorization URL: %v (does Options.ValidConfig point at Options.Provider, with its ClientID?)", err)
		return nil, nil, false
	}
	if callback["state"] != state {
		t.Errorf("the provider's callback carries state %q; want %q: the authorization URL must carry the request's state", callback["state"], state)
		return nil, nil, false
	}
	return auth.Session, callback, true
}

func checkSignInComplete(k *kit, t T) {
	session, callback, ok := k.signIn(t)
	if !ok {
		return
	}
	before := k.tokenRequests()
	res, err := k.finish(t, session, callback)
	if err != nil {
		if !k.defective(t, "UserInfo", err) {
			t.Errorf("UserInfo after a sign-in through the fake provider failed: %s", describe(err))
		}
		return
	}
	if n := k.tokenRequests() - before; n != 1 {
		t.Errorf("UserInfo made %d token requests; want exactly one: an authorization code may be used once only", n)
	}
	checkProfile(t, res.UserInfo, k.opts.WantUser)
	if res.Tokens != nil && res.Tokens.AccessToken == "" {
		t.Errorf("UserInfo returned tokens without an access token")
	}
}

func checkProfile(t T, got sdk.UserInfo, want *sdk.UserInfo) {
	t.Helper()
	if got.ID == "" {
		t.Errorf("the profile has no id")
	}
	if len(got.RawData) > 0 && !json.Valid(got.RawData) {
		t.Errorf("the profile's rawData is not JSON: %s", truncate(string(got.RawData), 200))
	}
	if want == nil {
		return
	}
	if got.ID != want.ID {
		t.Errorf("the profile's id is %q; want %q", got.ID, want.ID)
	}
	for _, f := range []struct {
		name      string
		got, want *string
	}{
		{"name", got.Name, want.Name},
		{"avatar", got.Avatar, want.Avatar},
		{"email", got.Email, want.Email},
		{"phone", got.Phone, want.Phone},
	} {
		switch {
		case f.want == nil:
		case f.got == nil:
			t.Errorf("the profile has no %s; want %q", f.name, *f.want)
		case *f.got != *f.want:
			t.Errorf("the profile's %s is %q; want %q", f.name, *f.got, *f.want)
		}
	}
}

func checkSignInInvalidCode(k *kit, t T) {
	session, callback, ok := k.signIn(t)
	if !ok {
		return
	}
	callback["code"] = k.code // one the provider never issued
	before := k.tokenRequests()
	_, err := k.finish(t, session, callback)
	k.wantError(t, "UserInfo with a code the provider refuses (invalid_grant)", err, sdk.CodeSocialAuthCodeInvalid)
	if n := k.tokenRequests() - before; n != 1 {
		t.Errorf("UserInfo made %d token requests; want exactly one: a refused code must not be sent again", n)
	}
}

func checkSignInInvalidToken(k *kit, t T) {
	session, callback, ok := k.signIn(t)
	if !ok {
		return
	}
	p := k.opts.Provider
	defer p.ClearFailures()
	p.FailNext(UserInfoEndpoint, 401, `{"error":"invalid_token","error_description":"The access token is invalid."}`)
	_, err := k.finish(t, session, callback)
	k.wantError(t, "UserInfo when the userinfo endpoint answers 401", err, sdk.CodeSocialAccessTokenInvalid)
}

func checkSignInProviderDown(k *kit, t T) {
	session, callback, ok := k.signIn(t)
	if !ok {
		return
	}
	p := k.opts.Provider
	defer p.ClearFailures()
	p.FailNext(TokenEndpoint, 503, "")
	_, err := k.finish(t, session, callback)
	k.wantError(t, "UserInfo when the token endpoint answers 503", err, sdk.CodeProviderUnavailable)
}

func checkSignInRefresh(k *kit, t T) {
	session, callback, ok := k.signIn(t)
	if !ok {
		return
	}
	res, err := k.finish(t, session, callback)
	if err != nil {
		if !k.defective(t, "UserInfo", err) {
			t.Errorf("UserInfo failed: %s", describe(err))
		}
		return
	}
	if res.Tokens == nil || res.Tokens.RefreshToken == "" {
		t.Skipf("the connector hands no refresh token back with ValidConfig; configure it to return tokens to check Refresh")
	}
	before := len(k.opts.Provider.RequestsTo(TokenEndpoint))
	tokens, err := k.d.refresh(t.Context(), res.Tokens.RefreshToken)
	if err != nil {
		if !k.defective(t, "Refresh", err) {
			t.Errorf("Refresh with the refresh token of a sign-in failed: %s", describe(err))
		}
		return
	}
	requests := k.opts.Provider.RequestsTo(TokenEndpoint)[before:]
	switch {
	case tokens.AccessToken == "":
		t.Errorf("Refresh returned no access token")
	case tokens.AccessToken == res.Tokens.AccessToken:
		t.Errorf("Refresh returned the old access token")
	case len(requests) != 1 || requests[0].Form.Get("grant_type") != "refresh_token":
		t.Errorf("Refresh made %s; want one refresh_token grant", describeGrants(requests))
	}
}

func describeGrants(requests []Request) string {
	if len(requests) == 0 {
		return "no token request"
	}
	s := fmt.Sprintf("%d token request(s):", len(requests))
	for _, r := range requests {
		s += " " + r.Form.Get("grant_type")
	}
	return s
}
