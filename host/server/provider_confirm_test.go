package server

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/idplug/idplug/host/seal"
)

// The native app's confirmation page carries the mark of who signed in; the
// mark had lived a minute, so a person who took longer to read the page and
// answer was refused ("did not finish signing in") and had to start again.
// It lives as long as the request may be pending.
func TestConfirmationWaitsForThePerson(t *testing.T) {
	const public = "https://idp.example.test"
	var skew atomic.Int64 // how far the sealer's clock is ahead
	sealer, err := seal.New([][]byte{[]byte("session-key-0123456789-0123456789-abcdef")},
		seal.WithClock(func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }))
	if err != nil {
		t.Fatal(err)
	}
	f := newFlowInstances("https://provider.test/authorize")
	pub, _ := url.Parse(public)
	srv := New(f, sealer, nil, hclog.NewNullLogger(), Settings{PublicURL: pub, AccessLog: hclog.NewNullLogger(), KeylessAPI: true})
	apps := map[string][2]string{"native": {"http://127.0.0.1:7/cb", "acme"}}
	mountTestProvider(t, srv, f, public, apps, "native")
	b := newJarBrowser(srv, public)
	sum := sha256.Sum256([]byte(strings.Repeat("v", 43)))
	rec := b.follow(b.get(authorizeQuery("native", apps["native"][0], "st-native") + "&" + url.Values{
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}.Encode()))
	loc, _ := url.Parse(rec.Header().Get("Location"))
	toFinish := b.callback("acme", "ada", loc.Query().Get("state"))
	if rec := b.follow(toFinish); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `name="`+signedParam+`"`) {
		t.Fatalf("the native app's finish step: %d; want its confirmation page, carrying the mark: %.400s", rec.Code, rec.Body)
	}

	skew.Store(int64(3 * time.Minute)) // the person reads the page
	back, _ := url.Parse(toFinish.Header().Get("Location"))
	form := url.Values{"id": {back.Query().Get("id")}, signedParam: {back.Query().Get(signedParam)}}
	u, _ := url.Parse(public + back.Path)
	rec = browserRequest(srv, http.MethodPost, back.Path, form.Encode(), map[string]string{
		"Content-Type": "application/x-www-form-urlencoded", "Origin": public, "Sec-Fetch-Site": "same-origin"}, b.jar.Cookies(u)...)
	if got := rec.Header().Get("Location"); !strings.HasPrefix(got, apps["native"][0]+"?") || !strings.Contains(got, "code=") {
		t.Fatalf("the person's answer three minutes on: %d, Location %q: %.300s; want the app's code", rec.Code, got, rec.Body)
	}
}

// A path below the issuer that is not clean (//authorize, /./keys) had been
// redirected by the provider's own router to the clean path below the site's
// root, dropping the issuer's path: /oidc//authorize went to /authorize.
func TestUncleanProviderPathsAreNotFound(t *testing.T) {
	const public = "https://idp.example.test"
	f := newFlowInstances("https://provider.test/authorize")
	srv := newUnitServer(t, f, nil)
	mountTestProvider(t, srv, f, public, map[string][2]string{"app1": {"https://app1.test/cb", "acme"}})
	for _, p := range []string{"/oidc//authorize", "/oidc/./keys", "/oidc/login/../keys", "/oidc/keys/"} {
		rec := browserRequest(srv, http.MethodGet, p, "", nil)
		if rec.Code != http.StatusNotFound {
			t.Errorf("%s: %d, Location %q; want 404", p, rec.Code, rec.Header().Get("Location"))
		}
	}
	if rec := browserRequest(srv, http.MethodGet, "/oidc/keys", "", nil); rec.Code != http.StatusOK {
		t.Errorf("/oidc/keys: %d", rec.Code)
	}
}
