package oauth2kit

import (
	"net/url"
	"testing"

	"github.com/idplug/idplug/sdk"
)

// A fresh authentication asked for is prompt=login, in place of a configured
// prompt; the rest of the URL and the session stay as built.
func TestForceLogin(t *testing.T) {
	auth := &sdk.Authorization{RedirectTo: "https://op.test/authorize?client_id=c&prompt=consent&state=s1", Session: sdk.Session{"state": "s1"}}
	same, err := ForceLogin(auth, sdk.AuthorizationRequest{})
	if err != nil || same != auth {
		t.Fatalf("not asked: %+v %v", same, err)
	}
	forced, err := ForceLogin(auth, sdk.AuthorizationRequest{ForceLogin: true})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(forced.RedirectTo)
	if q := u.Query(); q.Get("prompt") != "login" || len(q["prompt"]) != 1 || q.Get("client_id") != "c" || q.Get("state") != "s1" || forced.Session["state"] != "s1" {
		t.Errorf("forced: %s %v", forced.RedirectTo, forced.Session)
	}
	if auth.RedirectTo != "https://op.test/authorize?client_id=c&prompt=consent&state=s1" {
		t.Errorf("the built authorization was changed: %s", auth.RedirectTo)
	}
}
