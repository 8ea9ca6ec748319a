package connectortest

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/idplug/idplug/sdk"
)

// timeoutMargin is how long past its deadline a call may take to give up and
// return provider_timeout.
const timeoutMargin = 1500 * time.Millisecond

// checkSignInTimeout runs three sign-ins at once, in each of which the
// provider holds one request past the call's deadline: the code exchange; the
// first request made with the access token (userinfo, an API); the first after
// the exchange that carries none (a discovery document, a key set). A
// connector that gives any of them no deadline hangs there. At once, so that
// the check waits out one deadline, not three.
func checkSignInTimeout(k *kit, t T) {
	k.needSignIn(t)
	p := k.opts.Provider
	timeout := k.opts.callTimeout()
	stalls := []struct {
		hold  func(code string) *hold
		which string
	}{
		{p.holdExchange, ""},
		{p.holdTokenUse, "the first request made with the access token"},
		{p.holdAfterExchange, "the first request after the code exchange that carries no access token"},
	}
	signIns := make([]*stalledSignIn, 0, len(stalls))
	defer func() {
		for _, s := range signIns {
			p.releaseHold(s.hold)
		}
	}()
	for _, st := range stalls {
		session, callback, ok := k.signIn(t)
		if !ok {
			return
		}
		signIns = append(signIns, &stalledSignIn{hold: st.hold(callback["code"]), which: st.which,
			session: session, callback: callback, done: make(chan struct{})})
	}
	for _, s := range signIns {
		go func() {
			defer close(s.done)
			start := time.Now()
			_, s.err = k.finish(t, s.session, s.callback)
			s.took = time.Since(start)
		}()
		// The next starts once this one is held (or over): a request without a
		// token is held after the last sign-in's exchange whoever sent it.
		select {
		case <-s.hold.held:
		case <-s.done:
		}
	}
	for _, s := range signIns {
		<-s.done
		what := fmt.Sprintf("UserInfo when the token endpoint does not answer within the call's deadline (%s)", timeout)
		if s.which != "" {
			select {
			case <-s.hold.held:
			default:
				continue // the connector makes no such request
			}
			what = fmt.Sprintf("UserInfo when %s %s, %s, does not answer within the call's deadline (%s)", s.hold.first.Method, s.hold.first.Path, s.which, timeout)
		}
		if s.took > timeout+timeoutMargin && !defect(s.err) {
			t.Errorf("%s: returned after %s; want within the deadline: pass the call's context to every request", what, s.took.Round(time.Millisecond))
		}
		k.wantError(t, what, s.err, sdk.CodeProviderTimeout)
	}
}

// stalledSignIn is one sign-in of signin/timeout: the hold on one of its
// requests, and what UserInfo made of it.
type stalledSignIn struct {
	hold *hold
	// which names the request the hold picks; "" for the code exchange, which
	// every sign-in makes.
	which    string
	session  sdk.Session
	callback map[string]string
	done     chan struct{}
	err      error
	took     time.Duration
}

// maxAnswerRead is how much of an answer that does not end the provider may
// write before the connector closes the connection: oauth2kit reads at most
// 1 MiB of an answer and the Logto bridge 4 MiB, and what the connection's
// sockets (and a proxy on the way) hold counts as written though the
// connector never read it.
const maxAnswerRead = 8 << 20

// floodLength is where the provider gives up on an answer that does not end and
// drops the connection: twice maxAnswerRead, so that the verdict is in, and
// no more, which would cost a connector that reads all it gets seconds (and,
// under the race detector, hundreds of MiB) for nothing.
const floodLength = 2 * maxAnswerRead

// checkSignInHugeAnswer has the provider answer a sign-in's code exchange, then
// another's userinfo request, with a body that does not end, chunked (no
// Content-Length gives the size away), each time the connector asks, and
// counts what it wrote each time before the connector closed the connection:
// a connector that reads an answer whole, however large, is one answer away
// from running out of memory.
func checkSignInHugeAnswer(k *kit, t T) {
	k.needSignIn(t)
	p := k.opts.Provider
	tokenType, tokenPrefix := "application/json", `{"access_token":"connectortest-huge","token_type":"bearer","padding":"`
	if p.settings.format == TokenForm {
		tokenType, tokenPrefix = "application/x-www-form-urlencoded", "access_token=connectortest-huge&token_type=bearer&padding="
	}
	for _, c := range []struct {
		endpoint                  Endpoint
		name, contentType, prefix string
	}{
		{TokenEndpoint, "token endpoint", tokenType, tokenPrefix},
		{UserInfoEndpoint, "userinfo endpoint", "application/json", `{"id":"connectortest-huge","padding":"`},
	} {
		session, callback, ok := k.signIn(t)
		if !ok {
			return
		}
		f := p.floodAnswers(c.endpoint, c.contentType, c.prefix, floodLength)
		_, err := k.finish(t, session, callback)
		what := fmt.Sprintf("UserInfo when the %s answers HTTP 200 with a body that does not end (%s, chunked: no Content-Length)", c.name, c.contentType)
		if written := p.endFlood(f); len(written) > 0 && slices.Max(written) > maxAnswerRead {
			t.Errorf("%s: the connector took %.1f MiB of it (the provider gives up at %d MiB); want it to close the connection before %d MiB: cap what is read of an answer (oauth2kit.HTTPClient reads at most HTTPOptions.MaxResponseBytes, 1 MiB by default)", what, float64(slices.Max(written))/(1<<20), floodLength>>20, maxAnswerRead>>20)
			k.defective(t, what, err)
			continue
		}
		k.wantError(t, what, err, sdk.CodeInvalidResponse)
	}
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
