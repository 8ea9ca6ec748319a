package server

import (
	"context"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/idplug/idplug/internal/browsertest"
)

// Two tabs of one browser start sign-ins, each waits at the provider, and then
// each comes back, in either order: at one connector, at two, and as two apps
// signing in through the OpenID Provider. With one flow cookie for all, the
// second sign-in overwrote the first's, and the first tab's callback was
// refused. In real Chromium: idplug at localhost, the provider and the apps at
// 127.0.0.1 (another site), all on one port.
func TestTwoTabsSignInAtOnce(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := lis.Addr().(*net.TCPAddr).Port
	idplug, other := fmt.Sprintf("http://localhost:%d", port), fmt.Sprintf("http://127.0.0.1:%d", port)
	f := newFlowInstances(other + "/provider")
	srv := newUnitServer(t, f, func(s *Settings) { s.PublicURL, _ = url.Parse(idplug) })
	mountTestProvider(t, srv, f, idplug, map[string][2]string{"app1": {other + "/app1/cb", "acme"}, "app2": {other + "/app2/cb", "beta"}})

	mux := http.NewServeMux()
	// The provider: a page whose link sends the browser back with a code.
	mux.HandleFunc("/provider", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		back := q.Get("redirect_uri") + "?" + url.Values{"code": {"ada"}, "state": {q.Get("state")}}.Encode()
		fmt.Fprintf(w, `<!doctype html><a id="continue" href="%s">Continue</a>`, html.EscapeString(back))
	})
	// Where a sign-in returns (idplug's returnTo), and the apps' redirect URIs.
	done := func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		fmt.Fprintf(w, `<!doctype html><p id="done">%s</p>`, html.EscapeString(r.URL.Path+" "+q.Get("tab")+q.Get("state")+" code:"+q.Get("code")))
	}
	mux.HandleFunc("/done", done)
	mux.HandleFunc("/app1/cb", done)
	mux.HandleFunc("/app2/cb", done)
	mux.Handle("/", srv)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(lis) }()
	t.Cleanup(func() { _ = hs.Close() })

	browser := browsertest.New(t)
	// Each tab's start, and the page it ends at; an app's shows its code
	// after that.
	type tab struct {
		start, end string
		code       bool
	}
	signIn := func(id, n string) tab {
		return tab{start: idplug + "/sign-in/" + id + "?returnTo=" + url.QueryEscape("/done?tab="+n), end: "/done " + n + " code:"}
	}
	app := func(client string) tab {
		return tab{start: idplug + authorizeQuery(client, other+"/"+client+"/cb", "st-"+client),
			end: "/" + client + "/cb st-" + client + " code:", code: true}
	}
	for _, tc := range []struct {
		name string
		tabs [2]tab
	}{
		{"one connector", [2]tab{signIn("acme", "1"), signIn("acme", "2")}},
		{"two connectors", [2]tab{signIn("acme", "1"), signIn("beta", "2")}},
		{"two apps through the OpenID Provider", [2]tab{app("app1"), app("app2")}},
	} {
		for _, lastFirst := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/last_started_finishes_first=%v", tc.name, lastFirst), func(t *testing.T) {
				var tabs [2]context.Context
				for i := range tabs {
					ctx, closeTab := chromedp.NewContext(browser)
					t.Cleanup(closeTab)
					// The tab opens with the first run on its context, and lives
					// as long as the context of that run: one without a timeout.
					if err := chromedp.Do(ctx); err != nil {
						t.Fatalf("open tab %d: %v", i+1, err)
					}
					tabs[i] = ctx
					wait, cancel := context.WithTimeout(ctx, 20*time.Second)
					browsertest.Step(t, wait, fmt.Sprintf("tab %d to the provider", i+1), chromedp.Navigate(tc.tabs[i].start), chromedp.WaitVisible("#continue"))
					cancel()
				}
				order := []int{0, 1}
				if lastFirst {
					order = []int{1, 0}
				}
				for _, i := range order {
					wait, cancel := context.WithTimeout(tabs[i], 20*time.Second)
					err := chromedp.Do(wait, chromedp.Click("#continue"), chromedp.WaitVisible("#done"))
					if err != nil {
						look, stop := context.WithTimeout(tabs[i], 5*time.Second)
						loc, _ := chromedp.Run(look, chromedp.Location())
						text, _ := chromedp.Run(look, chromedp.Evaluate[string]("document.body ? document.body.innerText : ''"))
						stop()
						cancel()
						t.Fatalf("tab %d did not finish its sign-in (%v) at %s: %.300s", i+1, err, loc, text)
					}
					cancel()
					got, want := browsertest.Text(t, tabs[i], "#done"), tc.tabs[i]
					if gotCode, ok := strings.CutPrefix(got, want.end); !ok || (gotCode != "") != want.code {
						t.Fatalf("tab %d ended at %q; want %q, with a code for an app", i+1, got, want.end)
					}
				}
			})
		}
	}
}
