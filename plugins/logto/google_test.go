package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/idplug/idplug/internal/stubprovider"
	"github.com/idplug/idplug/sdk"
)

// TestGoogleOneTapCredentialIsRefused: Logto's Google connector takes a
// callback carrying `credential` as Google One Tap's, and signs in as that ID
// token's subject after checking only its signature, issuer and audience, no
// nonce and no code exchange. An ID token Google issued to this client for
// anyone (an app's, handed out by the vault, or one from a log), put into the
// attacker's own callback with a made-up code, had signed in as its owner.
// The bridge never starts One Tap, and refuses such a callback; the sign-in's
// own code still signs in.
func TestGoogleOneTapCredentialIsRefused(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	google := providerNamed(t, "google")
	google.hosts = append(google.hosts, "www.googleapis.com")
	routes := google.routes
	google.routes = func(s *stub, c *codes) {
		routes(s, c)
		s.HandleFunc("/oauth2/v3/certs", func(w http.ResponseWriter, _ *http.Request) {
			stubprovider.WriteJSON(w, 200, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "g-1", Algorithm: "RS256", Use: "sig"}}})
		})
	}
	h, s, c := startProvider(t, google)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", "g-1"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	victims, err := jwt.Signed(signer).Claims(map[string]any{
		"iss": "https://accounts.google.com", "aud": "g-client.apps.googleusercontent.com", "sub": "victim-107",
		"email": "victim@gmail.com", "email_verified": true, "name": "Victim",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"credential", "g_csrf_token"} {
		auth, cb := begin(t, h, google, c, "st-onetap-"+field)
		cb["code"] = "made-up"
		cb[field] = victims
		res, err := h.UserInfo(context.Background(), "social", auth.Session, cb)
		if err == nil {
			t.Fatalf("a callback with %s signed in as %q", field, res.UserInfo.ID)
		}
		wantCode(t, "a callback with "+field, err, sdk.CodeInvalidRequestParameters)
	}
	if _, called := s.Last("/token"); called {
		t.Error("a refused callback reached the token endpoint")
	}
	auth, cb := begin(t, h, google, c, "st-onetap-own")
	if res, err := h.UserInfo(context.Background(), "social", auth.Session, cb); err != nil || res.UserInfo.ID != google.want.ID {
		t.Fatalf("the sign-in's own code: %+v, %v", res, err)
	}
}
