package oauth2kit

import (
	"net/url"
	"reflect"
	"testing"

	"github.com/idplug/idplug/sdk"
	"golang.org/x/oauth2"
)

func TestStartAuthorization(t *testing.T) {
	r := AuthorizationRequest{Endpoint: "https://id.example.com/authorize?tenant=acme", ClientID: "c", RedirectURI: "https://app.example.com/cb", State: "st", Scope: "openid"}

	auth, err := StartAuthorization(r, true)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(auth.RedirectTo)
	q := u.Query()
	verifier := auth.Session[SessionCodeVerifier]
	if verifier == "" || q.Get("code_challenge") != oauth2.S256ChallengeFromVerifier(verifier) || q.Get("tenant") != "acme" || q.Get("state") != "st" {
		t.Errorf("URL %s with session %v", auth.RedirectTo, auth.Session)
	}
	if auth.Session[SessionRedirectURI] != r.RedirectURI || auth.Session[SessionState] != "st" || len(auth.Session) != 3 {
		t.Errorf("session = %v", auth.Session)
	}
	again, _ := StartAuthorization(r, true)
	if again.Session[SessionCodeVerifier] == verifier {
		t.Error("two sign-ins got the same PKCE verifier")
	}

	plain, err := StartAuthorization(r, false)
	if err != nil {
		t.Fatal(err)
	}
	u, _ = url.Parse(plain.RedirectTo)
	if u.Query().Has("code_challenge") || !reflect.DeepEqual(plain.Session, sdk.Session{SessionRedirectURI: r.RedirectURI, SessionState: "st"}) {
		t.Errorf("without PKCE: URL %s, session %v", plain.RedirectTo, plain.Session)
	}

	r.Endpoint = "/relative"
	if _, err := StartAuthorization(r, true); err == nil {
		t.Error("a relative endpoint made an authorization URL")
	}
}

func TestSignedIn(t *testing.T) {
	profile := sdk.UserInfo{ID: "u-1"}
	tok := &Token{AccessToken: "AT"}
	if res := SignedIn(profile, tok, false); res.UserInfo.ID != "u-1" || res.Tokens != nil {
		t.Errorf("without storeTokens: %+v", res)
	}
	if res := SignedIn(profile, tok, true); res.Tokens == nil || res.Tokens.AccessToken != "AT" {
		t.Errorf("with storeTokens: %+v", res)
	}
}
