package server

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/sdk"
	"github.com/idplug/idplug/sdk/oauth2kit"
)

// refusingFlowInstances reads a callback as the bundled plugins do
// (oauth2kit.ReadCallback): a provider's error, with its description, is
// authorization_failed.
type refusingFlowInstances struct{ *flowInstances }

func (f refusingFlowInstances) UserInfo(ctx context.Context, id string, session sdk.Session, callback map[string]string) (*host.UserInfoResult, error) {
	state := session["state"]
	if _, err := oauth2kit.ReadCallback(callback, oauth2kit.CallbackCheck{State: state}); err != nil {
		return nil, err
	}
	return f.flowInstances.UserInfo(ctx, id, session, callback)
}

// A sealed failure (failed=) was made out to a request's finish step, but not
// to the browser that made the request. Mallory, who has the id of Alice's
// pending request (a history, a shared screen, a Referer), starts a sign-in
// in her own browser with returnTo set to that request's finish step and
// makes it fail at her own callback, with a description of her choice. The
// failure she got back, handed to Alice's browser as a link, ended Alice's
// request at the app with Mallory's words and the app's state. A failure now
// counts only in the browser it was made in.
func TestFailureMadeInAnotherBrowserEndsNoRequest(t *testing.T) {
	const public = "https://idp.example.test"
	f := refusingFlowInstances{newFlowInstances("https://provider.test/authorize")}
	srv := newUnitServer(t, f, nil)
	apps := map[string][2]string{"app1": {"https://app1.test/cb", "acme"}}
	mountTestProvider(t, srv, f, public, apps)

	alice := newJarBrowser(srv, public)
	rec := alice.get(authorizeQuery("app1", apps["app1"][0], "st-alice"))
	login, err := url.Parse(rec.Header().Get("Location"))
	if err != nil || login.Path != "/oidc/login" || login.Query().Get("id") == "" {
		t.Fatalf("Alice's request: %d, Location %q", rec.Code, rec.Header().Get("Location"))
	}
	id := login.Query().Get("id")

	// Mallory, in her own browser, with the request's id only.
	mallory := newJarBrowser(srv, public)
	state := mallory.startSignIn(t, "acme", "/oidc/login/finish?id="+url.QueryEscape(id))
	const words = "Your account is locked. Call +1 555 0100 to unlock it"
	rec = mallory.get("/callback/acme?" + url.Values{"state": {state}, "error": {"access_denied"},
		"error_description": {words}}.Encode())
	back, err := url.Parse(rec.Header().Get("Location"))
	if rec.Code != http.StatusFound || err != nil || back.Path != "/oidc/login/finish" || !back.Query().Has(failedParam) {
		t.Fatalf("Mallory's failed sign-in: %d, Location %q; want the finish step with a sealed failure", rec.Code, rec.Header().Get("Location"))
	}
	// In her own browser the request is refused (the browser's mark)...
	if rec := mallory.get(back.RequestURI()); strings.HasPrefix(rec.Header().Get("Location"), apps["app1"][0]) {
		t.Fatalf("Mallory's browser ended Alice's request itself: %q", rec.Header().Get("Location"))
	}

	// ...but the link she made, opened in Alice's browser, ends it.
	rec = alice.get(back.RequestURI())
	loc, _ := url.Parse(rec.Header().Get("Location"))
	if loc != nil && strings.HasPrefix(loc.String(), apps["app1"][0]+"?") && loc.Query().Get("error") != "" {
		t.Fatalf("a failure made in Mallory's browser ended Alice's request at the app, with the app's state %q: error=%s error_description=%q",
			loc.Query().Get("state"), loc.Query().Get("error"), loc.Query().Get("error_description"))
	}
	// The request is still Alice's to finish.
	if rec := alice.get("/oidc/login?id=" + url.QueryEscape(id)); rec.Code != http.StatusFound {
		t.Errorf("Alice's request after the link: %d; want it still pending", rec.Code)
	}
}
