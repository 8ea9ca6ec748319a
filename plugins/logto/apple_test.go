package main

import (
	"context"
	"net/url"
	"testing"

	"github.com/idplug/idplug/sdk"
)

// TestAppleEmailIsTheIDTokens: Apple's form_post carries a "user" field with the
// user's name and email, which no one signed, and Logto's Apple connector took that
// email over its ID token's: the person signing in could post the callback of their
// own sign-in, ID token and all, with someone else's address in it, and be returned
// with that email. The email is the ID token's; the name still comes from the field.
func TestAppleEmailIsTheIDTokens(t *testing.T) {
	apple := providerNamed(t, "apple")
	h, _, c := startProvider(t, apple)
	auth, cb := begin(t, h, apple, c, "st-apple-user")
	cb["user"] = `{"name":{"firstName":"Ada","lastName":"Lovelace"},"email":"victim@example.com"}`
	res, err := h.UserInfo(context.Background(), "social", auth.Session, cb)
	if err != nil {
		t.Fatalf("UserInfo: %v", err)
	}
	if got := res.UserInfo; !same(got.Email, apple.want.Email) || !same(got.Name, apple.want.Name) || got.ID != apple.want.ID {
		t.Fatalf("profile = %s; want %s: the email of the callback's unsigned user field was taken", show(got), show(apple.want))
	}
}

// TestAppleIDTokenWithoutTheSignInsNonce: Logto's Apple connector compared the ID
// token's nonce with the sign-in's only when the token had one, so a token Apple
// issued to this client without a nonce (another flow's) passed as any sign-in's,
// for whoever held it. The bridge refuses a callback's ID token that does not carry
// the nonce the connector kept for the sign-in.
func TestAppleIDTokenWithoutTheSignInsNonce(t *testing.T) {
	apple := providerNamed(t, "apple")
	h, _, c := startProvider(t, apple)
	auth, err := h.AuthorizationURI(context.Background(), "social", callbackURL, "st-apple-no-nonce")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(auth.RedirectTo)
	if err != nil {
		t.Fatal(err)
	}
	elsewhere := *u // the same request without its nonce: the token Apple gives another flow
	q := elsewhere.Query()
	q.Del("nonce")
	elsewhere.RawQuery = q.Encode()
	cb := apple.callback(t, &elsewhere, c)
	res, err := h.UserInfo(context.Background(), "social", auth.Session, cb)
	if err == nil {
		t.Fatalf("an ID token without the sign-in's nonce signed in as %q", res.UserInfo.ID)
	}
	wantCode(t, "an ID token without a nonce", err, sdk.CodeSocialIDTokenInvalid)
	// The sign-in's own token still signs in.
	if _, err := h.UserInfo(context.Background(), "social", auth.Session, apple.callback(t, u, c)); err != nil {
		t.Fatalf("the sign-in's own ID token: %v", err)
	}
}
