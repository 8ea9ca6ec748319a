package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
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
func mountTestProvider(t *testing.T, srv *Server, f Instances, public string, apps map[string][2]string) {
	t.Helper()
	cfg := &config.Provider{Issuer: public + "/oidc", IssuerPath: "/oidc",
		AccessTokenTTL: 10 * time.Minute, RefreshTokenTTL: time.Hour, SSOTTL: 8 * time.Hour}
	for id, app := range apps {
		cfg.Clients = append(cfg.Clients, config.Client{ID: id, Secret: "a-confidential-client-secret-of-40-bytes!",
			AuthMethod: "client_secret_basic", RedirectURIs: []string{app[0]}, Connectors: []string{app[1]}})
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
	const public = "https://idp.example.test"
	f := newFlowInstances("https://provider.test/authorize")
	srv := newUnitServer(t, f, nil)
	apps := map[string][2]string{"app1": {"https://app1.test/cb", "acme"}, "app2": {"https://app2.test/cb", "acme"}}
	mountTestProvider(t, srv, f, public, apps)
	b := newJarBrowser(srv, public)
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
	marked, _ := url.Parse(srv.signedReturn(public+"/oidc/login/finish?id=request-one", "acme", "ada"))
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
