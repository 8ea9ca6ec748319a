package server

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/host/oidcprovider"
	"github.com/idplug/idplug/sdk"
)

// failingSignIn runs a browser sign-in at acme, whose callback fails with
// callErr, on its way to returnTo, and returns the callback's answer.
func failingSignIn(t *testing.T, srv *Server, f *fakeInstances, returnTo string) *httptest.ResponseRecorder {
	t.Helper()
	rec := browserRequest(srv, "GET", "/sign-in/acme?returnTo="+url.QueryEscape(returnTo), "", nil)
	if rec.Code != http.StatusFound {
		t.Fatalf("sign-in: %d %s", rec.Code, rec.Body)
	}
	f.mu.Lock()
	state := f.request.State
	f.mu.Unlock()
	return browserRequest(srv, "GET", "/callback/acme?error=access_denied&state="+url.QueryEscape(state), "", nil,
		flowCookieOf(srv, rec))
}

// A sign-in an app asked the provider for goes back to the provider's finish
// step when it fails, with the failure sealed for that request: the provider
// reads it there, and for no other request.
func TestProviderSignInFailureGoesBackToItsRequestOnly(t *testing.T) {
	f := signingIn("ada")
	f.callErr = &sdk.Error{Code: sdk.CodeAuthorizationFailed, Message: "this account may not use the app"}
	srv := newUnitServer(t, f, nil)
	srv.MountProvider("/oidc", http.NotFoundHandler())
	browser := srv.ProviderBrowser()
	returnTo := "/oidc" + oidcprovider.FinishPath + "?id=request-1"

	rec := failingSignIn(t, srv, f, returnTo)
	back, err := url.Parse(rec.Header().Get("Location"))
	if rec.Code != http.StatusFound || err != nil || back.Path != "/oidc/login/finish" || back.Query().Get("id") != "request-1" {
		t.Fatalf("the failed sign-in: %d, Location %q; want the provider's finish step", rec.Code, rec.Header().Get("Location"))
	}
	// The provider's request, below its path.
	at := func(q url.Values) *http.Request {
		return httptest.NewRequest(http.MethodGet, oidcprovider.FinishPath+"?"+q.Encode(), nil)
	}
	got, err := browser.SignInFailed(at(back.Query()), returnTo)
	if err != nil || got == nil || *got != (oidcprovider.SignInFailure{Error: "access_denied", Description: "this account may not use the app"}) {
		t.Fatalf("the failure at its request: %+v, %v", got, err)
	}
	other := url.Values{"id": {"request-2"}, failedParam: {back.Query().Get(failedParam)}}
	if got, err := browser.SignInFailed(at(other), returnTo[:len(returnTo)-1]+"2"); got != nil || err == nil {
		t.Errorf("the failure brought to another request: %+v, %v; want an error", got, err)
	}
	madeUp := url.Values{"id": {"request-1"}, failedParam: {"access_denied"}}
	if got, err := browser.SignInFailed(at(madeUp), returnTo); got != nil || err == nil {
		t.Errorf("a made-up failure: %+v, %v; want an error", got, err)
	}
	if got, err := browser.SignInFailed(at(url.Values{"id": {"request-1"}}), returnTo); got != nil || err != nil {
		t.Errorf("a way back without a failure: %+v, %v; want none", got, err)
	}
}

// A sign-in no app asked for (its way back is any other page, or no provider
// is mounted) fails on this site's page, as it did.
func TestSignInFailureWithoutAnAppIsThePage(t *testing.T) {
	f := signingIn("ada")
	f.callErr = &sdk.Error{Code: sdk.CodeAuthorizationFailed, Message: "this account may not use the app"}
	srv := newUnitServer(t, f, nil)
	if rec := failingSignIn(t, srv, f, "/oidc"+oidcprovider.FinishPath+"?id=request-1"); rec.Code != http.StatusUnauthorized {
		t.Errorf("no provider: %d, Location %q; want the page", rec.Code, rec.Header().Get("Location"))
	}
	srv.MountProvider("/oidc", http.NotFoundHandler())
	for _, returnTo := range []string{"/account", "/oidc/keys?id=request-1", "/oidc" + oidcprovider.FinishPath} {
		if rec := failingSignIn(t, srv, f, returnTo); rec.Code != http.StatusUnauthorized {
			t.Errorf("returnTo %s: %d, Location %q; want the page", returnTo, rec.Code, rec.Header().Get("Location"))
		}
	}
}

// A sign-in that fails before the provider is reached (the connector cannot
// make its authorization URL) goes back to the app's request too, under a
// public_url with a path as well.
func TestProviderSignInThatCannotStartGoesBack(t *testing.T) {
	for _, public := range []string{"https://idp.example.test", "https://idp.example.test/idp"} {
		f := signingIn("ada")
		f.authErr = &sdk.Error{Code: sdk.CodeProviderUnavailable, Message: "the plugin's provider at 10.0.0.3 does not answer"}
		srv := newUnitServer(t, f, func(s *Settings) { s.PublicURL, _ = url.Parse(public) })
		srv.MountProvider("/oidc", http.NotFoundHandler())
		path := strings.TrimPrefix(public, "https://idp.example.test")
		returnTo := path + "/oidc" + oidcprovider.FinishPath + "?id=request-1"
		rec := browserRequest(srv, "GET", path+"/sign-in/acme?returnTo="+url.QueryEscape(returnTo), "", nil)
		back, _ := url.Parse(rec.Header().Get("Location"))
		if rec.Code != http.StatusFound || back == nil || back.Path != path+"/oidc/login/finish" {
			t.Fatalf("%s: sign-in: %d, Location %q; want the provider's finish step", public, rec.Code, rec.Header().Get("Location"))
		}
		got, err := srv.ProviderBrowser().SignInFailed(httptest.NewRequest(http.MethodGet, oidcprovider.FinishPath+"?"+back.RawQuery, nil), returnTo)
		if err != nil || got == nil || got.Error != "temporarily_unavailable" || got.Description != "the sign-in cannot be finished now; try again shortly" {
			t.Fatalf("%s: the failure: %+v, %v; want temporarily_unavailable, without the plugin's words", public, got, err)
		}
	}
}

// RFC 6749 4.1.2.1: access_denied when the person, the provider or the
// mapping said no; temporarily_unavailable for what may pass; server_error
// for the rest.
func TestSignInFailuresAsTheAppIsToldOfThem(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&sdk.Error{Code: sdk.CodeAuthorizationFailed, Message: "the provider did not authorize the sign-in: access_denied"}, "access_denied"},
		{(&sdk.Error{Code: sdk.CodeAuthorizationFailed, Message: "the provider did not authorize the sign-in: temporarily_unavailable"}).WithDetail("error", "temporarily_unavailable"), "temporarily_unavailable"},
		{(&sdk.Error{Code: sdk.CodeAuthorizationFailed}).WithDetail("error", "server_error"), "server_error"},
		{&sdk.Error{Code: sdk.CodeProviderTimeout}, "temporarily_unavailable"},
		{&sdk.Error{Code: CodeStoreUnavailable}, "temporarily_unavailable"},
		{&sdk.Error{Code: host.CodePluginUnavailable}, "temporarily_unavailable"},
		{&sdk.Error{Code: sdk.CodeSocialAuthCodeInvalid}, "server_error"},
		{&sdk.Error{Code: host.CodeMappingFailed}, "server_error"},
		{&sdk.Error{Code: host.CodeInstanceNotFound}, "server_error"},
	} {
		if got, _ := oauthFailure(tc.err); got != tc.want {
			t.Errorf("%v: %s; want %s", tc.err, got, tc.want)
		}
	}
}
