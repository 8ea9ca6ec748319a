package main

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// TestProviderRequestStaysWithItsBrowser: someone who learns the id of a
// person's pending sign-in request (it is in the login page's URL) goes on
// with it in a browser signed in as themselves. Before requests were tied to
// their browser, the finish step sent that browser a code for the
// attacker's account with the app's state, ready to be planted in the
// person's browser; now it is refused, and the person's sign-in finishes.
func TestProviderRequestStaysWithItsBrowser(t *testing.T) {
	e := startProvider(t)
	person, attacker := newBrowser(t), newBrowser(t)

	state, nonce := random(t), random(t)
	verifier, challenge := pkce()
	opts := append([]oauth2.AuthCodeOption{gooidc.Nonce(nonce), oauth2.SetAuthURLParam("connector_id", "acme")}, challenge...)
	login, err := person.walk(t, e.app.AuthCodeURL(state, opts...), e.issuer+"/login")
	if err != nil {
		t.Fatalf("authorize: %v\n%s", err, e.idplug.logs)
	}
	id := login.Query().Get("id")
	if id == "" {
		t.Fatalf("authorize sent the browser to %s, without a request id", login)
	}

	// The attacker signs in for a request of their own first: their browser
	// has a session the finish step would take.
	if _, err := e.signIn(t, attacker, random(t), random(t)); err != nil {
		t.Fatalf("the attacker's own sign-in: %v", err)
	}
	finish := e.issuer + "/login/finish?id=" + url.QueryEscape(id)
	for _, target := range []string{finish, login.String()} {
		resp, err := attacker.http.Get(target)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if resp.StatusCode < 400 || !strings.Contains(string(body), "started in another browser") {
			t.Fatalf("%s in another browser: %s, Location %q; want it refused\n%s", target, resp.Status, resp.Header.Get("Location"), body)
		}
	}

	// The person's request is still theirs to finish.
	cb, err := person.walk(t, login.String(), rpCallback)
	if err != nil {
		t.Fatalf("the person's sign-in: %v\n%s", err, e.idplug.logs)
	}
	if cb.Query().Get("state") != state || cb.Query().Get("code") == "" {
		t.Fatalf("callback %v, want a code and the app's state", cb.Query())
	}
	if _, err := e.app.Exchange(t.Context(), cb.Query().Get("code"), oauth2.VerifierOption(verifier)); err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if !hasCookie(person.http.Jar, e.issuer, "idplug_browser") {
		t.Fatal("the person's browser has no idplug_browser cookie")
	}
}

func hasCookie(jar http.CookieJar, at, name string) bool {
	u, _ := url.Parse(at)
	for _, c := range jar.Cookies(u) {
		if c.Name == name {
			return true
		}
	}
	return false
}
