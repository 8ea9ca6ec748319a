package connectortest

import (
	"fmt"
	"maps"
	"net/url"

	"github.com/idplug/idplug/sdk"
)

// newState returns a state as the host makes them: random and URL-safe.
func newState() string { return "connectortest-state-" + randomHex(12) }

func (k *kit) authorize(t T, state, redirectURI string) (*sdk.Authorization, error) {
	return k.d.authorizationURI(t.Context(), sdk.AuthorizationRequest{InstanceID: InstanceID, RedirectURI: redirectURI, State: state})
}

// startFlow starts a sign-in with state and returns its session.
func (k *kit) startFlow(t T, state string) (sdk.Session, bool) {
	t.Helper()
	auth, err := k.authorize(t, state, k.opts.redirectURI())
	if err != nil {
		if !k.defective(t, "AuthorizationURI", err) {
			t.Errorf("AuthorizationURI failed, so the callback cannot be checked: %s", describe(err))
		}
		return nil, false
	}
	return auth.Session, true
}

// finish hands a callback to UserInfo with (a copy of) session.
func (k *kit) finish(t T, session sdk.Session, callback map[string]string) (*sdk.UserInfoResult, error) {
	return k.d.userInfo(t.Context(), sdk.UserInfoRequest{InstanceID: InstanceID, Session: maps.Clone(session), Callback: callback})
}

func checkAuthorizationURL(k *kit, t T) {
	state, redirect := newState(), k.opts.redirectURI()
	auth, err := k.authorize(t, state, redirect)
	if err != nil {
		if !k.defective(t, "AuthorizationURI", err) {
			t.Errorf("AuthorizationURI with ValidConfig failed: %s", describe(err))
		}
		return
	}
	checkAuthorizationURLCarries(t, auth.RedirectTo, state, redirect)
}

func checkAuthorizationURLCarries(t T, redirectTo, state, redirect string) bool {
	t.Helper()
	u, err := url.Parse(redirectTo)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		t.Errorf("the authorization URL %q is not an absolute http(s) URL", truncate(redirectTo, 200))
		return false
	}
	q, ok := u.Query(), true
	if got := q.Get("state"); got != state {
		t.Errorf("the authorization URL's state parameter is %q; want the request's state %q: the callback is checked against it", truncate(got, 80), state)
		ok = false
	}
	if got := q.Get("redirect_uri"); got != redirect {
		t.Errorf("the authorization URL's redirect_uri parameter is %q; want the request's redirect URI %q", truncate(got, 80), redirect)
		ok = false
	}
	return ok
}

func checkAuthorizationStatePerRequest(k *kit, t T) {
	redirect := k.opts.redirectURI()
	var seen [2]url.Values
	for i := range 2 {
		state := newState()
		auth, err := k.authorize(t, state, redirect)
		if err != nil {
			if !k.defective(t, "AuthorizationURI", err) {
				t.Errorf("AuthorizationURI failed: %s", describe(err))
			}
			return
		}
		if !checkAuthorizationURLCarries(t, auth.RedirectTo, state, redirect) {
			return
		}
		u, _ := url.Parse(auth.RedirectTo) // parsed by checkAuthorizationURLCarries
		seen[i] = u.Query()
	}
	// What ties a code or an ID token to its sign-in must be new at each one:
	// one PKCE verifier for every sign-in lets a code stolen from one be
	// redeemed in another (RFC 7636 4.1), one nonce an ID token replayed.
	for _, p := range []struct{ param, why string }{
		{"code_challenge", "a PKCE verifier must be made for each sign-in (oauth2kit.NewPKCE in AuthorizationURI, not in ParseConfig): with one for all, a code stolen from one sign-in is redeemed in another"},
		{"nonce", "a nonce must be made for each sign-in: with one for all, an ID token of one sign-in passes in another"},
	} {
		if v := seen[0].Get(p.param); v != "" && v == seen[1].Get(p.param) {
			t.Errorf("two authorization URLs carry the same %s; %s", p.param, p.why)
		}
	}
}

func checkAuthorizationGarbage(k *kit, t T) {
	redirect := k.opts.redirectURI()
	for _, c := range []struct{ what, state, redirect string }{
		{"an empty state", "", redirect},
		{"an empty redirect URI", newState(), ""},
		{"a huge state", huge(64 << 10), redirect},
		{"a huge redirect URI", newState(), redirect + "?x=" + huge(64<<10)},
		{"a redirect URI that is not a URL", newState(), "::not a url::"},
		{"a javascript: redirect URI", newState(), "javascript:alert(1)"},
		{"control and bidi characters", "\x00\u202e<>\"'%00", "https://idplug.example/\x00\u202e"},
	} {
		_, err := k.authorize(t, c.state, c.redirect)
		k.defective(t, "AuthorizationURI with "+c.what, err)
	}
}

func checkCallbackAccessDenied(k *kit, t T) {
	state := newState()
	session, ok := k.startFlow(t, state)
	if !ok {
		return
	}
	_, err := k.finish(t, session, map[string]string{
		"state":             state,
		"error":             "access_denied",
		"error_description": "The user denied the request.",
	})
	k.wantError(t, "UserInfo with error=access_denied", err, sdk.CodeAuthorizationFailed)
}

// stateCodes are the codes a callback that fails the state check may get.
var stateCodes = []sdk.ErrorCode{sdk.CodeInvalidRequestParameters, sdk.CodeAuthorizationFailed}

// requestCodes are the codes of a callback that cannot be used.
var requestCodes = []sdk.ErrorCode{sdk.CodeInvalidRequestParameters, sdk.CodeInsufficientRequestParameters, sdk.CodeAuthorizationFailed}

// tokenRequests counts the token requests the fake provider has seen, or -1 without one.
func (k *kit) tokenRequests() int {
	if k.opts.Provider == nil {
		return -1
	}
	return len(k.opts.Provider.RequestsTo(TokenEndpoint))
}

// noExchange fails when the provider saw a token request since before.
func (k *kit) noExchange(t T, what string, before int) {
	t.Helper()
	if before >= 0 && k.tokenRequests() != before {
		t.Errorf("%s: the connector exchanged the code at the token endpoint; a callback that fails the state check must be refused before anything is done with it", what)
	}
}

func checkCallbackStateMismatch(k *kit, t T) {
	session, ok := k.startFlow(t, newState())
	if !ok {
		return
	}
	before := k.tokenRequests()
	_, err := k.finish(t, session, map[string]string{"state": newState(), "code": k.code})
	what := "UserInfo with another flow's state"
	k.wantError(t, what, err, stateCodes...)
	k.noExchange(t, what, before)
}

// checkCallbackOtherFlow gives this sign-in's session another sign-in's real
// callback: its state is a live flow's and its code one the provider issued,
// where callback/state-mismatch sends a state and a code no one made. A
// connector that found its flow by the callback's state (a store of flows
// outside the session), or trusted the callback's state over the session's,
// finished the other sign-in in this browser: login CSRF, the attacker's
// account in the victim's session.
func checkCallbackOtherFlow(k *kit, t T) {
	session, _, ok := k.signIn(t)
	if !ok {
		return
	}
	_, other, ok := k.signIn(t)
	if !ok {
		return
	}
	before := k.tokenRequests()
	_, err := k.finish(t, session, other)
	what := "UserInfo with another sign-in's callback (a live flow's state, a code the provider issued for it)"
	k.wantError(t, what, err, stateCodes...)
	k.noExchange(t, what, before)
}

func checkCallbackNoState(k *kit, t T) {
	session, ok := k.startFlow(t, newState())
	if !ok {
		return
	}
	before := k.tokenRequests()
	_, err := k.finish(t, session, map[string]string{"code": k.code})
	what := "UserInfo with a callback without state"
	k.wantError(t, what, err, stateCodes...)
	k.noExchange(t, what, before)
}

func checkCallbackMissingCode(k *kit, t T) {
	state := newState()
	session, ok := k.startFlow(t, state)
	if !ok {
		return
	}
	_, err := k.finish(t, session, map[string]string{"state": state})
	k.wantError(t, "UserInfo with a callback without code", err, sdk.CodeInsufficientRequestParameters)
}

func checkCallbackEmpty(k *kit, t T) {
	session, ok := k.startFlow(t, newState())
	if !ok {
		return
	}
	_, err := k.finish(t, session, map[string]string{})
	k.wantError(t, "UserInfo with an empty callback", err, requestCodes...)
	_, err = k.finish(t, session, nil)
	k.wantError(t, "UserInfo with no callback parameters at all", err, requestCodes...)
}

func checkCallbackEmptySession(k *kit, t T) {
	state := newState()
	before := k.tokenRequests()
	for _, c := range []struct {
		what     string
		session  sdk.Session
		callback map[string]string
	}{
		{"an empty session and a callback with state and code", sdk.Session{}, map[string]string{"state": state, "code": k.code}},
		{"no session and a callback with state and code", nil, map[string]string{"state": state, "code": k.code}},
		{"an empty session and a callback with a code but no state", sdk.Session{}, map[string]string{"code": k.code}},
		{"an empty session and an empty callback", sdk.Session{}, map[string]string{}},
	} {
		_, err := k.finish(t, c.session, c.callback)
		k.wantError(t, "UserInfo with "+c.what, err, requestCodes...)
	}
	k.noExchange(t, "UserInfo with an empty session", before)
}

func checkCallbackGarbage(k *kit, t T) {
	state := newState()
	session, ok := k.startFlow(t, state)
	if !ok {
		return
	}
	big := huge(64 << 10)
	refused := []struct {
		what     string
		callback map[string]string
	}{
		{"huge values", map[string]string{"state": big, "code": big, "error_description": big, "iss": big, "scope": big, big[:1024]: big}},
		{"odd characters", map[string]string{"state": "\x00\u202e<>\"'%00", "code": "../../etc/passwd", "": "", "\x00": "\x00"}},
		{"a state one character longer", map[string]string{"state": state + "x", "code": k.code}},
		{"a state one character shorter", map[string]string{"state": state[:len(state)-1], "code": k.code}},
	}
	for _, c := range refused {
		_, err := k.finish(t, session, c.callback)
		what := "UserInfo with a callback of " + c.what
		if err == nil {
			t.Errorf("%s: succeeded; its state is not the session's", what)
			continue
		}
		k.defective(t, what, err)
	}
	// Sessions come from AuthorizationURI through the host, sealed; still, nothing in
	// one may crash the connector. Whether these succeed is the connector's business.
	for _, s := range []sdk.Session{
		{"state": big, "redirectUri": big, "codeVerifier": big, big[:1024]: big},
		{"state": "\x00\u202e", "redirectUri": "::not a url::", "": ""},
	} {
		_, err := k.finish(t, s, map[string]string{"state": s["state"], "code": k.code})
		k.defective(t, fmt.Sprintf("UserInfo with a garbage session (%d keys)", len(s)), err)
	}
}

func checkRefreshBadToken(k *kit, t T) {
	_, err := k.d.refresh(t.Context(), "")
	k.wantError(t, "Refresh with an empty refresh token", err,
		sdk.CodeInsufficientRequestParameters, sdk.CodeInvalidRequestParameters, sdk.CodeNotImplemented)
	_, err = k.d.refresh(t.Context(), huge(64<<10))
	if err != nil {
		k.defective(t, "Refresh with a huge refresh token", err)
	}
}
