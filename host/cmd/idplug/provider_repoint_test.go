package main

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/idplug/idplug/internal/testport"
	"golang.org/x/oauth2"
)

// TestProviderGrantsEndWhenTheirConnectorPointsAtAnotherProvider: the
// operator points acme (same id, same target) at another identity provider
// (another issuer, token endpoint and client id; a tenant that was taken
// over, say) and reloads. The browser sessions signed in through acme end at
// once: their profiles were the old provider's word, and single sign-on
// "would have handed apps the old provider's user under the sub of the new
// one's user with the same id" (docs/operators.md). The OpenID Provider's
// grants made through acme had not: the app's refresh token kept getting ID
// tokens for the old provider's user, under the sub that now names the new
// provider's user with that id, and its access token kept answering at
// /userinfo, for as long as the app kept refreshing. A grant now keeps the
// source its browser session had (the plugin, the provider it names, the
// target, the mapping), and ends at its next use once the connector names
// another.
func TestProviderGrantsEndWhenTheirConnectorPointsAtAnotherProvider(t *testing.T) {
	port := testport.Free(t)
	public := "http://127.0.0.1:" + strconv.Itoa(port)
	first, firstSecret := startUpstream(t, public)
	second, secondSecret := startUpstream(t, public)
	dir := pluginFolder(t, "oauth2")
	p := startIdplug(t, dir, providerConfig(t, public, port, first, firstSecret, ""))
	e := newOPEnv(t, p, public, first, nil)
	ctx := t.Context()
	b := newBrowser(t)

	verifier, ch := pkce()
	q, err := e.signIn(t, b, random(t), random(t), ch...)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := e.app.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("exchange: %v %v", tok, err)
	}

	// acme (and beta) now sign in at the second provider; ids and targets stay.
	p.rewrite(t, dir, providerConfig(t, public, port, second, secondSecret, ""))
	if status, body := p.call(t, "POST", "/v1/admin/reload", "", nil); status != http.StatusOK {
		t.Fatalf("reload: %d %v", status, body)
	}

	// Control: the browser's session through acme ended with the reload, as
	// documented: a silent request finds no sign-in.
	cb, err := b.walk(t, e.app.AuthCodeURL(random(t), oauth2.SetAuthURLParam("prompt", "none"),
		oauth2.SetAuthURLParam("connector_id", "acme")), rpCallback)
	if err != nil || cb.Query().Get("error") != "login_required" {
		t.Fatalf("the browser's session survived the repointing (control): %v %v", cb, err)
	}

	// The grant made through the old provider ends the same way: at its next
	// use, /userinfo first (which ends it), then the refresh.
	req, _ := http.NewRequest(http.MethodGet, e.issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("userinfo of a grant made at the provider acme no longer signs in at: %d, want 401", resp.StatusCode)
	}
	old := *tok
	old.Expiry = time.Now().Add(-time.Minute)
	if next, err := e.app.TokenSource(ctx, &old).Token(); !isOAuthError(err, "invalid_grant") {
		t.Errorf("refresh of a grant made at the provider acme no longer signs in at: got new tokens (%v), want invalid_grant",
			next != nil && next.AccessToken != "")
	}
}
