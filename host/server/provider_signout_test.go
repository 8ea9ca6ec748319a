package server

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Mallory's own ID token as id_token_hint in a link makes Alice's browser ask
// before it signs out (docs/security.md), and a sign-in mark made up for the
// link (signed=, which the provider's finish step reads) must not change
// that: the browser routes refuse such a session for single sign-on, and a
// session refused had counted as no session at all, signed out at once.
func TestSignOutWithAnotherUsersHintAndAMadeUpMarkAsksFirst(t *testing.T) {
	const public = "https://idp.example.test"
	f := newFlowInstances("https://provider.test/authorize")
	srv := newUnitServer(t, f, nil)
	apps := map[string][2]string{"app1": {"https://app1.test/cb", "acme"}}
	mountTestProvider(t, srv, f, public, apps)
	signInAs := func(user string) (*jarBrowser, string) {
		b := newJarBrowser(srv, public)
		rec := b.follow(b.get(authorizeQuery("app1", apps["app1"][0], "st")))
		loc, _ := url.Parse(rec.Header().Get("Location"))
		rec = b.follow(b.callback("acme", user, loc.Query().Get("state")))
		loc, _ = url.Parse(rec.Header().Get("Location"))
		if loc == nil || loc.Query().Get("code") == "" {
			t.Fatalf("%s's sign-in: %d, Location %q: %.300s", user, rec.Code, rec.Header().Get("Location"), rec.Body)
		}
		return b, loc.Query().Get("code")
	}
	_, code := signInAs("mallory")
	token, _ := http.NewRequest(http.MethodPost, "/", nil)
	token.SetBasicAuth("app1", "a-confidential-client-secret-of-40-bytes!")
	rec := browserRequest(srv, http.MethodPost, "/oidc/oauth/token", url.Values{"grant_type": {"authorization_code"},
		"code": {code}, "redirect_uri": {apps["app1"][0]}}.Encode(), map[string]string{
		"Content-Type": "application/x-www-form-urlencoded", "Authorization": token.Header.Get("Authorization")})
	var answer struct {
		IDToken string `json:"id_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil || answer.IDToken == "" {
		t.Fatalf("mallory's tokens: %d %s", rec.Code, rec.Body)
	}
	alice, _ := signInAs("alice")
	signedIn := func() bool { return strings.Contains(alice.get("/user").Body.String(), `"isAuthenticated":true`) }
	if !signedIn() {
		t.Fatal("alice is not signed in")
	}
	for _, extra := range []url.Values{{}, {"signed": {"x"}}, {"signed": {"x"}, "id": {"y"}}} {
		q := url.Values{"id_token_hint": {answer.IDToken}}
		for k, v := range extra {
			q[k] = v
		}
		rec = alice.get("/oidc/end_session?" + q.Encode())
		if rec.Code != http.StatusOK || !signedIn() {
			t.Fatalf("Mallory's hint with %v: %d, Location %q, Alice signed in: %v; want the page asking", extra, rec.Code, rec.Header().Get("Location"), signedIn())
		}
	}
}
