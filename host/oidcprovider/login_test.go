package oidcprovider

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/idplug/idplug/sdk"
)

// SignInFailed reports b.failure for a way back with ?failed= to failedFor,
// and refuses one to any other request, as the browser routes' sealed word
// would be refused.
func (b *testBrowser) SignInFailed(r *http.Request, returnTo string) (*SignInFailure, error) {
	if !r.URL.Query().Has("failed") {
		return nil, nil
	}
	if b.failure == nil || returnTo != b.failedFor {
		return nil, &sdk.Error{Code: sdk.CodeInvalidRequestParameters, Message: "this failure belongs to another sign-in"}
	}
	return b.failure, nil
}

// pendingRequest starts a sign-in request of the web app in a browser that is
// not signed in, and returns its id.
func (s *hostileSetup) pendingRequest(t *testing.T, extra url.Values) string {
	t.Helper()
	q := url.Values{"client_id": {"web"}, "redirect_uri": {"https://app.test/cb"}, "response_type": {"code"},
		"scope": {"openid"}, "state": {"st-1"}}
	for k, v := range extra {
		q[k] = v
	}
	rec := s.do(httptest.NewRequest(http.MethodGet, "/authorize?"+q.Encode(), nil))
	loc, err := url.Parse(rec.Header().Get("Location"))
	if err != nil || loc.Path != "/oidc"+loginPath || loc.Query().Get("id") == "" {
		t.Fatalf("authorize: %d, Location %q; want the login page", rec.Code, rec.Header().Get("Location"))
	}
	return loc.Query().Get("id")
}

// appError reads the error a finish sent the app: its query, or a failure.
func appError(t *testing.T, rec *httptest.ResponseRecorder) url.Values {
	t.Helper()
	loc, err := url.Parse(rec.Header().Get("Location"))
	if rec.Code != http.StatusSeeOther || err != nil || !strings.HasPrefix(loc.String(), "https://app.test/cb?") {
		t.Fatalf("finish: %d, Location %q; want the app's redirect URI", rec.Code, rec.Header().Get("Location"))
	}
	q := loc.Query()
	if q.Get("code") != "" || q.Get("state") != "st-1" || q.Get("iss") != "http://127.0.0.1:9/oidc" {
		t.Fatalf("the app is sent %v; want an error with the state and iss", q)
	}
	return q
}

// OpenID Connect Core 3.1.2.6: a sign-in the connector's mapping (or the
// provider, or the person there) refused reaches the app as access_denied, with
// the state and iss, and the request is spent.
func TestFinishSendsARefusedSignInToTheApp(t *testing.T) {
	s := newHostileSetup(t)
	id := s.pendingRequest(t, nil)
	s.browser.failure = &SignInFailure{Error: "access_denied", Description: "ce compte n'est pas \"autorisé\"\n"}
	s.browser.failedFor = s.p.finishURL(id)
	q := appError(t, s.do(httptest.NewRequest(http.MethodGet, finishPath+"?id="+id+"&failed=1", nil)))
	if q.Get("error") != "access_denied" || q.Get("error_description") != "ce compte n'est pas ?autoris???" {
		t.Errorf("error %q, error_description %q; want access_denied, in the characters RFC 6749 allows",
			q.Get("error"), q.Get("error_description"))
	}
	// Spent: the way back again, or a sign-in after it, answers nothing.
	s.signIn("alice")
	for _, target := range []string{finishPath + "?id=" + id + "&failed=1", finishPath + "?id=" + id} {
		if rec := s.do(httptest.NewRequest(http.MethodGet, target, nil)); rec.Header().Get("Location") != "" {
			t.Errorf("%s after the error: %d, Location %q", target, rec.Code, rec.Header().Get("Location"))
		}
	}
}

// A sign-in's failure is the browser routes' word for one request: made for
// another, it ends nothing, and the request is still signed in to as usual.
func TestFinishTakesNoFailureMadeForAnotherRequest(t *testing.T) {
	s := newHostileSetup(t)
	mine, theirs := s.pendingRequest(t, nil), s.pendingRequest(t, nil)
	s.browser.failure = &SignInFailure{Error: "access_denied", Description: "refused"}
	s.browser.failedFor = s.p.finishURL(mine)
	rec := s.do(httptest.NewRequest(http.MethodGet, finishPath+"?id="+theirs+"&failed=1", nil))
	if rec.Header().Get("Location") != "" || len(s.browser.failures) != 1 {
		t.Fatalf("another request's failure: %d, Location %q, failures %v; want the error page", rec.Code, rec.Header().Get("Location"), s.browser.failures)
	}
	// Nor does a failure turn into a sign-in: a signed-in browser that
	// brings one back gets the error, not a code.
	s.signIn("alice")
	rec = s.do(httptest.NewRequest(http.MethodGet, finishPath+"?id="+theirs+"&failed=1", nil))
	if rec.Header().Get("Location") != "" {
		t.Fatalf("another request's failure, signed in: %d, Location %q", rec.Code, rec.Header().Get("Location"))
	}
	rec = s.do(httptest.NewRequest(http.MethodGet, finishPath+"?id="+theirs, nil))
	loc, _ := url.Parse(rec.Header().Get("Location"))
	if loc == nil || loc.Query().Get("code") == "" || loc.Query().Get("state") != "st-1" {
		t.Fatalf("the request after another's failure was brought to it: %d, Location %q; want its code", rec.Code, rec.Header().Get("Location"))
	}
}

// A browser's sign-in that does not do for the request (here another user's
// than id_token_hint's) reaches the app as access_denied.
func TestFinishSendsASignInThatDoesNotDoToTheApp(t *testing.T) {
	s := newHostileSetup(t)
	id := s.pendingRequest(t, url.Values{"id_token_hint": {s.idToken(t, "alice")}})
	s.signIn("bob")
	q := appError(t, s.do(httptest.NewRequest(http.MethodGet, finishPath+"?id="+id, nil)))
	if q.Get("error") != "access_denied" || !strings.Contains(q.Get("error_description"), "id_token_hint") {
		t.Errorf("error %q (%s); want access_denied naming id_token_hint", q.Get("error"), q.Get("error_description"))
	}
	if len(s.browser.failures) != 0 {
		t.Errorf("the error page was shown too: %v", s.browser.failures)
	}
}

// A request spent with no code to give (the connector signed in with was
// removed meanwhile) tells the app, which may start again: nothing here can
// finish it anymore.
func TestFinishTellsTheAppOfACodeItCouldNotIssue(t *testing.T) {
	s := newHostileSetup(t)
	id := s.pendingRequest(t, nil)
	s.signIn("alice")
	s.browser.login.Instance = "removed" // web may use any connector; this one is no longer configured
	q := appError(t, s.do(httptest.NewRequest(http.MethodGet, finishPath+"?id="+id, nil)))
	if q.Get("error") != "login_required" {
		t.Errorf("error %q (%s); want login_required", q.Get("error"), q.Get("error_description"))
	}
	if len(s.browser.failures) != 0 {
		t.Errorf("the error page was shown too: %v", s.browser.failures)
	}
}

// A browser that comes back without a sign-in or a failure ends nothing:
// anyone can follow the link.
func TestFinishWithoutASignInLeavesTheRequestPending(t *testing.T) {
	s := newHostileSetup(t)
	id := s.pendingRequest(t, nil)
	rec := s.do(httptest.NewRequest(http.MethodGet, finishPath+"?id="+id, nil))
	var e *sdk.Error
	if rec.Header().Get("Location") != "" || len(s.browser.failures) != 1 || !errors.As(s.browser.failures[0], &e) {
		t.Fatalf("no sign-in: %d, Location %q, failures %v", rec.Code, rec.Header().Get("Location"), s.browser.failures)
	}
	s.signIn("alice")
	loc, _ := url.Parse(s.do(httptest.NewRequest(http.MethodGet, finishPath+"?id="+id, nil)).Header().Get("Location"))
	if loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("after signing in: Location %v; want a code", loc)
	}
}
