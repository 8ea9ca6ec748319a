package connectortest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/idplug/idplug/sdk"
)

// signIn runs a sign-in through the fake provider up to the callback, and returns the
// session and the callback that UserInfo gets.
func (k *kit) signIn(t T) (sdk.Session, map[string]string, bool) {
	t.Helper()
	auth, callback, ok := k.authorizeAtProvider(t)
	if !ok {
		return nil, nil, false
	}
	return auth.Session, callback, true
}

// authorizeAtProvider is signIn that returns the whole authorization, its URL
// with its session.
func (k *kit) authorizeAtProvider(t T) (*sdk.Authorization, map[string]string, bool) {
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
	return auth, callback, true
}

func checkSignInComplete(k *kit, t T) {
	k.needExchange(t)
	session, callback, ok := k.signIn(t)
	if !ok {
		return
	}
	before := k.tokenRequests()
	res, err := k.finish(t, session, callback)
	if err != nil {
		k.signInFailed.Store(true)
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

// checkSignInInjectedParams adds to a real callback what a browser can: a user
// id, an email, a "user" object as Apple posts one, and an access token the
// provider issued for another sign-in. Everything in the callback but its code
// and state is the browser's word: a connector that took an id from it signed
// in as anyone, and one that took its token skipped the code exchange and
// signed in with another sign-in's token. Refusing the callback is as good.
func checkSignInInjectedParams(k *kit, t T) {
	first := k.signedIn(t)
	if first == nil {
		return
	}
	session, callback, ok := k.signIn(t)
	if !ok {
		return
	}
	const injectedID, injectedEmail = "connectortest-injected-user", "injected@attacker.example"
	injected := map[string]string{"user_id": injectedID, "id": injectedID, "sub": injectedID, "uid": injectedID,
		"email": injectedEmail, "user": `{"id":"` + injectedID + `","email":"` + injectedEmail + `"}`}
	if first.Tokens != nil && first.Tokens.AccessToken != "" {
		injected["access_token"] = first.Tokens.AccessToken
	} else if issued := k.opts.Provider.Issued(); len(issued) > 0 {
		injected["access_token"] = issued[len(issued)-1]
	}
	for key, v := range injected {
		if _, taken := callback[key]; !taken {
			callback[key] = v
		}
	}
	before := k.tokenRequests()
	res, err := k.finish(t, session, callback)
	if err != nil {
		return // a callback with fields the connector does not expect, refused
	}
	what := "UserInfo with a callback that also carries user_id, email, user and an access_token"
	if n := k.tokenRequests() - before; n != 1 {
		t.Errorf("%s made %d token requests; want exactly one, for the callback's code: a token in the callback is the browser's word, not the provider's", what, n)
	}
	if res.UserInfo.ID != first.UserInfo.ID {
		t.Errorf("%s signed in as %q; want the provider's user %q: an id in the callback is the browser's word", what, res.UserInfo.ID, first.UserInfo.ID)
	}
	if res.UserInfo.Email != nil && *res.UserInfo.Email == injectedEmail {
		t.Errorf("%s gave the profile the callback's email %q: an email in the callback is the browser's word", what, injectedEmail)
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
	k.needExchange(t) // the userinfo endpoint comes after the token endpoint
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

// needSignIn skips a check that builds on a working sign-in when signin/complete
// (or signin/pkce, needExchange) found it broken: that check already names the
// defect.
func (k *kit) needSignIn(t T) {
	k.needExchange(t)
	if k.signInFailed.Load() {
		k.skipAfterFailure(t, "signin/complete", "needs a working sign-in, and signin/complete failed")
	}
}

// needExchange skips a check that needs the token endpoint to accept a code when
// signin/pkce saw it refuse the connector's code_verifier.
func (k *kit) needExchange(t T) {
	if k.exchangeRefused.Load() {
		k.skipAfterFailure(t, "signin/pkce", "needs a code exchange the provider accepts, and signin/pkce saw the provider refuse the connector's code_verifier")
	}
}

// signedIn runs a whole sign-in for a check that builds on one; a failure is
// signin/complete's to report, so the check skips.
func (k *kit) signedIn(t T) *sdk.UserInfoResult {
	t.Helper()
	k.needSignIn(t)
	session, callback, ok := k.signIn(t)
	if !ok {
		return nil
	}
	res, err := k.finish(t, session, callback)
	if err != nil {
		var d *diedError
		if errors.As(err, &d) {
			k.deathsReported.Add(1)
		}
		if k.signInFailed.Load() {
			k.skipAfterFailure(t, "signin/complete", "the sign-in failed, which is signin/complete's to report: %s", describe(err))
		}
		t.Skipf("the sign-in failed, which is signin/complete's to report: %s", describe(err))
	}
	return res
}

func checkSignInRefresh(k *kit, t T) {
	res := k.signedIn(t)
	if res == nil {
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

// bigID is 2^53+1: a float64 holds 9007199254740992 instead, so a connector that
// decodes the profile into float64 (encoding/json's default for any) loses a digit.
const bigID = "9007199254740993"

func checkSignInNumericID(k *kit, t T) {
	want := k.opts.WantUser
	if want == nil {
		t.Skipf("set Options.WantUser, so that the kit knows which field of the profile is the id")
	}
	k.needSignIn(t)
	p := k.opts.Provider
	profile := p.Profile()
	numeric, ok := replaceValue(profile, want.ID, bigID)
	if !ok {
		t.Skipf("the provider's profile has no value %q (Options.WantUser.ID) to replace with a number", want.ID)
	}
	p.SetProfile(numeric)
	defer p.SetProfile(profile)
	session, callback, ok := k.signIn(t)
	if !ok {
		return
	}
	res, err := k.finish(t, session, callback)
	switch {
	case err != nil:
		if !k.defective(t, "UserInfo", err) {
			t.Errorf("UserInfo with the numeric id %s in the profile failed: %s", bigID, describe(err))
		}
	case res.UserInfo.ID != bigID:
		t.Errorf("the profile's id is %q for the numeric id %s; want every digit: decode with json.Number (oauth2kit.MapProfile does), never into float64", res.UserInfo.ID, bigID)
	}
}

// replaceValue returns profile with the first string or number equal to old, at any
// depth, replaced by the JSON number num.
func replaceValue(profile, old, num string) (string, bool) {
	d := json.NewDecoder(bytes.NewReader([]byte(profile)))
	d.UseNumber()
	var doc any
	if d.Decode(&doc) != nil {
		return "", false
	}
	var walk func(v any) (any, bool)
	walk = func(v any) (any, bool) {
		switch v := v.(type) {
		case string:
			return json.Number(num), v == old
		case json.Number:
			return json.Number(num), v.String() == old
		case map[string]any:
			for _, key := range sortedKeys(v) {
				if nv, ok := walk(v[key]); ok {
					v[key] = nv
					return v, true
				}
			}
		case []any:
			for i := range v {
				if nv, ok := walk(v[i]); ok {
					v[i] = nv
					return v, true
				}
			}
		}
		return v, false
	}
	doc, ok := walk(doc)
	if !ok {
		return "", false
	}
	out, err := json.Marshal(doc)
	return string(out), err == nil
}

// clientAuthMethods are the methods the fake provider can tell apart.
var clientAuthMethods = []ClientAuthMethod{ClientSecretBasic, ClientSecretPost}

// authMethodItem finds the form item that chooses the client authentication: a
// select offering client_secret_basic or client_secret_post.
func (k *kit) authMethodItem() (string, []ClientAuthMethod) {
	for _, f := range k.meta.FormItems {
		var offered []ClientAuthMethod
		for _, si := range f.SelectItems {
			if m := ClientAuthMethod(si.Value); slices.Contains(clientAuthMethods, m) {
				offered = append(offered, m)
			}
		}
		if len(offered) > 0 {
			return f.Key, offered
		}
	}
	return "", nil
}

func checkSignInClientAuth(k *kit, t T) {
	key, methods := k.authMethodItem()
	p := k.opts.Provider
	required := p.ClientAuth()
	if required != "" {
		// The provider refuses every other method: the connector configured with
		// ValidConfig (and with the required method, when a form item offers it)
		// must use it.
		methods = nil
		if slices.Contains(clientAuthMethods, required) && key != "" {
			methods = []ClientAuthMethod{required}
		}
	}
	if key == "" || len(methods) == 0 {
		if required == "" {
			t.Skipf("no form item offers client_secret_basic or client_secret_post, and the provider requires no method (connectortest.WithClientAuth): the connector authenticates one way, which the kit cannot check")
		}
		k.needSignIn(t)
		session, callback, ok := k.signIn(t)
		if !ok {
			return
		}
		before := len(p.RequestsTo(TokenEndpoint))
		_, err := k.finish(t, session, callback)
		requests := p.RequestsTo(TokenEndpoint)[before:]
		switch {
		case len(requests) == 0:
			t.Errorf("UserInfo made no token request")
		case requests[0].ClientAuth != required:
			t.Errorf("the provider requires %s, and the connector authenticated with %s", required, requests[0].ClientAuth)
		case err != nil && !k.defective(t, "UserInfo", err):
			t.Errorf("with the provider requiring %s, UserInfo failed: %s", required, describe(err))
		}
		return
	}
	k.needSignIn(t)
	defer func() {
		if err := k.d.configure(t.Context(), k.validRaw); err != nil {
			t.Errorf("configuring ValidConfig again: %s", describe(err))
		}
	}()
	for _, m := range methods {
		raw, err := json.Marshal(k.withKey(key, string(m)))
		if err != nil {
			t.Fatalf("connectortest: encoding a configuration: %v", err)
		}
		if err := k.d.configure(t.Context(), raw); err != nil {
			t.Errorf("ValidConfig with %s %q was refused: %s", key, m, describe(err))
			continue
		}
		session, callback, ok := k.signIn(t)
		if !ok {
			return
		}
		before := len(p.RequestsTo(TokenEndpoint))
		_, err = k.finish(t, session, callback)
		requests := p.RequestsTo(TokenEndpoint)[before:]
		switch {
		case len(requests) == 0:
			t.Errorf("with %s %q, UserInfo made no token request", key, m)
		case requests[0].ClientAuth != m:
			t.Errorf("with %s %q, the connector authenticated with %s", key, m, requests[0].ClientAuth)
		case err != nil && !k.defective(t, "UserInfo", err):
			t.Errorf("with %s %q, UserInfo failed: %s", key, m, describe(err))
		}
	}
}

// movedPath is where the kit's redirects point: no endpoint of the provider's.
const movedPath = "/connectortest-moved"

// checkSignInNoRedirects has the provider answer a sign-in's code exchange
// with 307 and 308, and its userinfo request with 302, to a URL of its own
// that is no endpoint, and fails a connector that goes there. net/http's client follows them, sending a POST's body
// again on 307 and 308 and an Authorization header to the same host: a
// provider's answer (or whoever writes it) chose where the code, the client
// secret and the access token went.
func checkSignInNoRedirects(k *kit, t T) {
	k.needSignIn(t)
	p := k.opts.Provider
	for _, c := range []struct {
		endpoint Endpoint
		status   int
		what     string
	}{
		{TokenEndpoint, http.StatusTemporaryRedirect, "the token endpoint answering 307"},
		{TokenEndpoint, http.StatusPermanentRedirect, "the token endpoint answering 308"},
		{UserInfoEndpoint, http.StatusFound, "the userinfo endpoint answering 302"},
	} {
		session, callback, ok := k.signIn(t)
		if !ok {
			return
		}
		before := len(p.Requests())
		p.answerNext(c.endpoint, answer{status: c.status, location: p.URL + movedPath})
		// Failing or asking the endpoint again are both fine (a GET may be
		// retried); only following the redirect is not.
		_, _ = k.finish(t, session, callback)
		p.ClearFailures()
		for _, r := range p.Requests()[before:] {
			if strings.HasPrefix(r.Path, movedPath) {
				t.Errorf("after %s, the connector sent its request again to the URL the redirect names (%s %s): refuse a provider's redirects (oauth2kit's client does), or the code, the client secret and the token go wherever an answer points", c.what, r.Method, r.Path)
				break
			}
		}
	}
}
