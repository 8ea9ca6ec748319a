package connectortest

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/idplug/idplug/sdk"
)

// timeoutMargin is how long past its deadline a call may take to give up and
// return provider_timeout.
const timeoutMargin = 1500 * time.Millisecond

func checkSignInTimeout(k *kit, t T) {
	k.needSignIn(t)
	session, callback, ok := k.signIn(t)
	if !ok {
		return
	}
	p := k.opts.Provider
	defer p.ClearFailures()
	timeout := k.opts.callTimeout()
	// Longer than the call may last; it ends when the connector gives up.
	p.DelayNext(TokenEndpoint, 2*timeout+timeoutMargin)
	p.DelayNext(TokenEndpoint, 2*timeout+timeoutMargin) // for a connector that retries
	start := time.Now()
	_, err := k.finish(t, session, callback)
	took := time.Since(start)
	what := fmt.Sprintf("UserInfo when the token endpoint does not answer within the call's deadline (%s)", timeout)
	if took > timeout+timeoutMargin && !defect(err) {
		t.Errorf("%s: returned after %s; want within the deadline: pass the call's context to every request", what, took.Round(time.Millisecond))
	}
	k.wantError(t, what, err, sdk.CodeProviderTimeout)
}

// malformed are answers that are not what the protocol says, with HTTP 200: an
// error page from a proxy, and a body cut short.
func malformed(endpoint Endpoint) []answer {
	truncated := `{"access_token":"connectortest-truncated","token_type":"bea`
	if endpoint != TokenEndpoint {
		truncated = `{"id":"connectortest-user-1","name":"Connie Tes`
	}
	return []answer{
		{status: http.StatusOK, contentType: "text/html; charset=utf-8", body: "<html><body><h1>502 Bad Gateway</h1></body></html>"},
		{status: http.StatusOK, contentType: "application/json", body: truncated},
	}
}

func checkSignInMalformedToken(k *kit, t T) { k.malformedAnswers(t, TokenEndpoint, "token endpoint") }

func checkSignInMalformedProfile(k *kit, t T) {
	k.malformedAnswers(t, UserInfoEndpoint, "userinfo endpoint")
}

func (k *kit) malformedAnswers(t T, endpoint Endpoint, name string) {
	k.needSignIn(t)
	p := k.opts.Provider
	defer p.ClearFailures()
	for _, a := range malformed(endpoint) {
		session, callback, ok := k.signIn(t)
		if !ok {
			return
		}
		p.ClearFailures()
		// Twice, so that a connector that retries sees the same answer again (how
		// often it may send a code is signin/invalid-code's to check).
		p.answerNext(endpoint, a)
		p.answerNext(endpoint, a)
		_, err := k.finish(t, session, callback)
		k.wantError(t, fmt.Sprintf("UserInfo when the %s answers HTTP 200 with %s %s", name, a.contentType, truncate(a.body, 40)), err, sdk.CodeInvalidResponse)
	}
}

func checkSignInTokenError200(k *kit, t T) {
	k.needSignIn(t)
	session, callback, ok := k.signIn(t)
	if !ok {
		return
	}
	p := k.opts.Provider
	defer p.ClearFailures()
	body := `{"error":"invalid_grant","error_description":"The authorization code is invalid or expired."}`
	if p.settings.format == TokenForm {
		body = "error=invalid_grant&error_description=The+authorization+code+is+invalid+or+expired."
	}
	p.FailNext(TokenEndpoint, http.StatusOK, body)
	p.FailNext(TokenEndpoint, http.StatusOK, body) // for a connector that retries
	before := len(p.RequestsTo(UserInfoEndpoint))
	_, err := k.finish(t, session, callback)
	what := "UserInfo when the token endpoint answers HTTP 200 with error=invalid_grant"
	switch {
	case len(p.RequestsTo(UserInfoEndpoint)) > before:
		t.Errorf("%s: the connector went on to call the userinfo endpoint; an error field is an error whatever the status (which code it is, signin/invalid-code checks)", what)
	case err == nil:
		t.Errorf("%s: succeeded; want an error", what)
	default:
		k.defective(t, what, err)
	}
}

func checkSignInRefreshRotation(k *kit, t T) {
	res := k.signedIn(t)
	if res == nil {
		return
	}
	if res.Tokens == nil || res.Tokens.RefreshToken == "" {
		t.Skipf("the connector hands no refresh token back with ValidConfig; configure it to return tokens to check Refresh")
	}
	p := k.opts.Provider
	before := len(p.RequestsTo(TokenEndpoint))
	first, err := k.d.refresh(t.Context(), res.Tokens.RefreshToken)
	if requests := p.RequestsTo(TokenEndpoint)[before:]; err == nil && (len(requests) != 1 || requests[0].Form.Get("grant_type") != "refresh_token") {
		t.Skipf("the first Refresh made %s, which is signin/refresh's to report", describeGrants(requests))
	}
	if err != nil {
		var d *diedError
		if errors.As(err, &d) {
			k.deathsReported.Add(1)
		}
		t.Skipf("the first Refresh failed, which is signin/refresh's to report: %s", describe(err))
	}
	if first.RefreshToken == "" {
		t.Errorf("Refresh returned no refresh token, while the provider rotated it (the one sent is no longer valid): hand back the new one")
		return
	}
	second, err := k.d.refresh(t.Context(), first.RefreshToken)
	switch {
	case err != nil:
		if !k.defective(t, "the second Refresh", err) {
			t.Errorf("the second Refresh, with the refresh token the first returned, failed: %s; a provider that rotates refresh tokens refuses the old one, so hand back the new one", describe(err))
		}
	case second.AccessToken == "" || second.AccessToken == first.AccessToken:
		t.Errorf("the second Refresh returned no new access token")
	}
}

func checkSignInUnverifiedEmail(k *kit, t T) {
	want := k.opts.WantUser
	if want == nil || want.Email == nil {
		t.Skipf("Options.WantUser has no email, so there is no email to serve unverified")
	}
	k.needSignIn(t)
	p := k.opts.Provider
	p.ServeUnverifiedEmail(true)
	defer p.ServeUnverifiedEmail(false)
	session, callback, ok := k.signIn(t)
	if !ok {
		return
	}
	res, err := k.finish(t, session, callback)
	switch {
	case err != nil:
		// Refusing the sign-in is a choice a connector may make.
		k.defective(t, "UserInfo", err)
	case res.UserInfo.Email != nil && *res.UserInfo.Email == *want.Email:
		field := p.settings.verifiedField
		if p.settings.verifiedResource != "" {
			field = p.settings.verifiedResource + " " + field
		}
		hint := ""
		if p.settings.verifiedResource == "" && !hasPath(p.Profile(), p.settings.verifiedField) {
			// The kit added the field: the connector may read another one.
			hint = fmt.Sprintf("; the kit added %s, which the profile it serves (WithProfile) does not have: if your provider says so in another field, name it with connectortest.WithEmailVerifiedField(path), or WithEmailVerifiedAtField(path) for one that holds when it verified the address (GitLab's confirmed_at)", field)
		}
		is, mapIt := "false", "oauth2kit.ProfileMap.EmailVerified"
		if p.settings.verifiedAt {
			is, mapIt = "null", "oauth2kit.ProfileMap.EmailVerifiedAt"
		}
		t.Errorf("the profile has the email %q, which the provider says is not verified (%s is %s): map the email only when verified (%s)%s", *res.UserInfo.Email, field, is, mapIt, hint)
	}
}
