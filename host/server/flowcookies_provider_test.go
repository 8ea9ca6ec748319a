package server

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/idplug/idplug/host/config"
	"github.com/idplug/idplug/host/oidcprovider"
	"github.com/idplug/idplug/host/seal"
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
