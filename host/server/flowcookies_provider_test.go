package server

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idplug/idplug/host/config"
	"github.com/idplug/idplug/host/oidcprovider"
	"github.com/idplug/idplug/host/seal"
	"github.com/idplug/idplug/sdk"
)

// mountTestProvider mounts a real OpenID Provider at /oidc in front of srv's
// browser routes, with a confidential client for each of apps: its redirect
// URI, and the one connector it signs in with.
func mountTestProvider(t *testing.T, srv *Server, f Instances, public string, apps map[string][2]string, publicClients ...string) {
	t.Helper()
	cfg := &config.Provider{Issuer: public + "/oidc", IssuerPath: "/oidc",
		AccessTokenTTL: 10 * time.Minute, RefreshTokenTTL: time.Hour, SSOTTL: 8 * time.Hour}
	for id, app := range apps {
		c := config.Client{ID: id, Secret: "a-confidential-client-secret-of-40-bytes!",
			AuthMethod: "client_secret_basic", RedirectURIs: []string{app[0]}, Connectors: []string{app[1]}}
		if slices.Contains(publicClients, id) {
			c.Secret, c.AuthMethod, c.Public = "", "none", true
		}
		cfg.Clients = append(cfg.Clients, c)
	}
	p, err := oidcprovider.New(oidcprovider.Options{Config: cfg, Store: sqliteStore(t),
		Sealer: func() *seal.Sealer { return srv.Sealer() }, Targets: Targets(f), AllInstances: AllInstances(f),
		RemovedAt: srv.ConnectorRemovedAt, Browser: srv.ProviderBrowser(), RequestTTL: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	srv.MountProvider("/oidc", p)
}

// twoAppsOnAcme is the provider at https://idp.example.test with the
// confidential apps app1 and app2, both on acme, and a browser.
func twoAppsOnAcme(t *testing.T) (*Server, map[string][2]string, *jarBrowser) {
	t.Helper()
	const public = "https://idp.example.test"
	f := newFlowInstances("https://provider.test/authorize")
	srv := newUnitServer(t, f, nil)
	apps := map[string][2]string{"app1": {"https://app1.test/cb", "acme"}, "app2": {"https://app2.test/cb", "acme"}}
	mountTestProvider(t, srv, f, public, apps)
	return srv, apps, newJarBrowser(srv, public)
}

// authorizeQuery is an app's authorization request to the provider, which
// signs in at the connector even a browser signed in already (prompt=login).
func authorizeQuery(client, redirectURI, state string) string {
	return "/oidc/authorize?" + url.Values{"client_id": {client}, "redirect_uri": {redirectURI},
		"response_type": {"code"}, "scope": {"openid"}, "state": {state}, "prompt": {"login"}}.Encode()
}

// The OpenID Provider signs browsers in through the same /sign-in and flow
// cookies: two apps that send one browser to it at once (two tabs) each get
// their code, whichever sign-in finishes first, at one connector or two.
func TestTwoAppsSignInThroughTheProviderAtOnce(t *testing.T) {
	for _, second := range []string{"acme", "beta"} {
		t.Run("acme_then_"+second, func(t *testing.T) {
			const public = "https://idp.example.test"
			f := newFlowInstances("https://provider.test/authorize")
			srv := newUnitServer(t, f, nil)
			apps := map[string][2]string{"app1": {"https://app1.test/cb", "acme"}, "app2": {"https://app2.test/cb", second}}
			mountTestProvider(t, srv, f, public, apps)
			b := newJarBrowser(srv, public)

			states := map[string]string{}
			for _, app := range []string{"app1", "app2"} {
				rec := b.follow(b.get(authorizeQuery(app, apps[app][0], "st-"+app)))
				loc, err := url.Parse(rec.Header().Get("Location"))
				if err != nil || !strings.HasPrefix(loc.String(), "https://provider.test/authorize?") {
					t.Fatalf("%s's request: %d, Location %q; want the connector's provider: %.300s", app, rec.Code, rec.Header().Get("Location"), rec.Body)
				}
				states[app] = loc.Query().Get("state")
			}
			for _, app := range []string{"app2", "app1"} {
				rec := b.follow(b.callback(apps[app][1], "ada", states[app]))
				loc, err := url.Parse(rec.Header().Get("Location"))
				if err != nil || rec.Code != http.StatusSeeOther || !strings.HasPrefix(loc.String(), apps[app][0]+"?") ||
					loc.Query().Get("code") == "" || loc.Query().Get("state") != "st-"+app {
					t.Fatalf("%s's sign-in: %d, Location %q; want its redirect URI with a code: %.300s", app, rec.Code, rec.Header().Get("Location"), rec.Body)
				}
			}
			if held := b.flowCookies(srv.cookies); len(held) > 0 {
				t.Errorf("both sign-ins finished, and the browser still holds %v", held)
			}
		})
	}
}

// With a sign-in for each tab, two apps' sign-ins through the provider may
// finish at their connector in one order and reach the provider's finish step
// in the other: app1's tab signs in as ada, app2's as grace, and only then does
// app1's tab reach its finish step, where the browser's session is grace's.
// The finish step read the session alone and gave app1 a code for grace; each
// sign-in now goes back with a sealed mark of who signed in for that request,
// and a finish step whose session is someone else is refused.
func TestProviderFinishTakesOnlyItsOwnSignIn(t *testing.T) {
	srv, apps, b := twoAppsOnAcme(t)
	states := map[string]string{}
	for _, app := range []string{"app1", "app2"} {
		rec := b.follow(b.get(authorizeQuery(app, apps[app][0], "st-"+app)))
		loc, _ := url.Parse(rec.Header().Get("Location"))
		states[app] = loc.Query().Get("state")
	}
	toFinish := b.callback("acme", "ada", states["app1"]) // app1's tab, not followed yet
	if rec := b.follow(b.callback("acme", "grace", states["app2"])); !strings.HasPrefix(rec.Header().Get("Location"), "https://app2.test/cb?") {
		t.Fatalf("app2's sign-in: %d, Location %q: %.300s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	rec := b.follow(toFinish)
	if loc := rec.Header().Get("Location"); strings.HasPrefix(loc, "https://app1.test/cb?") && strings.Contains(loc, "code=") {
		t.Fatalf("app1, whose tab signed in as ada, got a code while the browser's session was grace's: %q", loc)
	}
	if !strings.Contains(rec.Body.String(), "did not finish signing in") {
		t.Errorf("app1's finish step: %d %.300s; want it refused, saying to start again", rec.Code, rec.Body)
	}
	// A mark made out to another request names no one for this one.
	marked, _ := url.Parse(srv.signedReturn(b.base+"/oidc/login/finish?id=request-one", "acme", "ada"))
	ada := userSession{Connector: "acme", UserInfo: sdk.UserInfo{ID: "ada"}}
	if r := httptest.NewRequest(http.MethodGet, marked.String(), nil); !srv.markedFor(r, ada) {
		t.Fatalf("the mark does not name ada for its own request")
	}
	q := marked.Query()
	q.Set("id", "request-two")
	marked.RawQuery = q.Encode()
	if r := httptest.NewRequest(http.MethodGet, marked.String(), nil); srv.markedFor(r, ada) {
		t.Errorf("a mark made out to another request passed")
	}
}

// The same, for an app whose code waits for the person's word (a public
// client at a loopback redirect URI): the mark goes through the confirmation
// page, and the answer's POST is refused when the session became another
// tab's account meanwhile. Without another sign-in, the answer gets its code.
func TestProviderConfirmationTakesOnlyItsOwnSignIn(t *testing.T) {
	for _, replaced := range []bool{false, true} {
		t.Run(fmt.Sprintf("replaced=%v", replaced), func(t *testing.T) {
			const public = "https://idp.example.test"
			f := newFlowInstances("https://provider.test/authorize")
			srv := newUnitServer(t, f, nil)
			apps := map[string][2]string{"native": {"http://127.0.0.1:7/cb", "acme"}, "app2": {"https://app2.test/cb", "acme"}}
			mountTestProvider(t, srv, f, public, apps, "native")
			b := newJarBrowser(srv, public)
			verifier := strings.Repeat("v", 43)
			sum := sha256.Sum256([]byte(verifier))
			native := authorizeQuery("native", apps["native"][0], "st-native") + "&" + url.Values{
				"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}.Encode()
			states := map[string]string{}
			for app, query := range map[string]string{"native": native, "app2": authorizeQuery("app2", apps["app2"][0], "st-app2")} {
				rec := b.follow(b.get(query))
				loc, _ := url.Parse(rec.Header().Get("Location"))
				states[app] = loc.Query().Get("state")
			}
			toFinish := b.callback("acme", "ada", states["native"])
			if rec := b.follow(toFinish); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `name="`+signedParam+`"`) {
				t.Fatalf("the native app's finish step: %d; want its confirmation page, carrying the mark: %.400s", rec.Code, rec.Body)
			}
			if replaced {
				if rec := b.follow(b.callback("acme", "grace", states["app2"])); !strings.HasPrefix(rec.Header().Get("Location"), "https://app2.test/cb?") {
					t.Fatalf("app2's sign-in: %d, Location %q: %.300s", rec.Code, rec.Header().Get("Location"), rec.Body)
				}
			}
			back, _ := url.Parse(toFinish.Header().Get("Location"))
			form := url.Values{"id": {back.Query().Get("id")}, signedParam: {back.Query().Get(signedParam)}}
			u, _ := url.Parse(public + back.Path)
			rec := browserRequest(srv, http.MethodPost, back.Path, form.Encode(), map[string]string{
				"Content-Type": "application/x-www-form-urlencoded", "Origin": public, "Sec-Fetch-Site": "same-origin"}, b.jar.Cookies(u)...)
			gotCode := strings.HasPrefix(rec.Header().Get("Location"), apps["native"][0]+"?") && strings.Contains(rec.Header().Get("Location"), "code=")
			switch {
			case replaced && gotCode:
				t.Fatalf("the native app, whose tab signed in as ada, got a code once the session was grace's: %q", rec.Header().Get("Location"))
			case replaced && !strings.Contains(rec.Body.String(), "did not finish signing in"):
				t.Errorf("the answer: %d %.300s; want it refused, saying to start again", rec.Code, rec.Body)
			case !replaced && !gotCode:
				t.Errorf("the answer, with no other sign-in: %d, Location %q: %.300s; want the app's code", rec.Code, rec.Header().Get("Location"), rec.Body)
			}
		})
	}
}
