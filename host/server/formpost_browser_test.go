package server

import (
	"context"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/idplug/idplug/internal/browsertest"
	"github.com/idplug/idplug/sdk"
)

// The form_post relay page's Content-Security-Policy had form-action 'self'.
// CSP's form-action covers every redirect that follows the form's submission,
// and the sign-in's returnTo, when the OpenID Provider started it, redirects on
// to the app (another origin) with its code: the browser refused that last hop. page.go's FormTo says as much for the pages it
// renders. Here, in real Chromium: the provider at 127.0.0.1 posts the
// callback to idplug at localhost, the relay posts it to /finish, which
// redirects to returnTo (/hop, this site), which redirects to the app at
// 127.0.0.1, as the provider's /login/finish does.
func TestFormPostRelayThenARedirectToTheApp(t *testing.T) {
	site := newFormPostSite(t, nil)
	idplug, other := site.idplug, site.other

	var landed atomic.Bool
	site.mux.HandleFunc("/hop", func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.Host, "localhost") {
			http.Redirect(w, r, other+"/landed", http.StatusFound) // the provider sends the code to the app
			return
		}
		http.NotFound(w, r)
	})
	site.mux.HandleFunc("/landed", func(w http.ResponseWriter, r *http.Request) {
		landed.Store(true)
		fmt.Fprint(w, `<!doctype html><p id="landed">the app got its code</p>`)
	})
	var seen []string
	var seenMu sync.Mutex
	site.serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seenMu.Lock()
		seen = append(seen, r.Method+" "+r.Host+r.URL.Path)
		seenMu.Unlock()
		site.mux.ServeHTTP(w, r)
	}))

	ctx := browsertest.New(t)
	wait, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	err := chromedp.Do(wait, chromedp.Navigate(idplug+"/sign-in/acme?returnTo=/hop"), chromedp.WaitVisible("#landed"))
	if err != nil || !landed.Load() {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		seenMu.Lock()
		defer seenMu.Unlock()
		t.Fatalf("the app never got the code (%v): the browser stopped at %s; requests: %q", err, loc, seen)
	}
}

// formPostSite serves, on one port, idplug at localhost and a form_post
// provider at 127.0.0.1 (two sites to the browser): the provider's /provider
// page posts the callback to idplug with the flow's state and extra's fields.
// Tests add their routes to mux, then serve.
type formPostSite struct {
	idplug, other string
	f             *fakeInstances
	mux           *http.ServeMux
	lis           net.Listener
}

func newFormPostSite(t *testing.T, extra map[string]string) *formPostSite {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := lis.Addr().(*net.TCPAddr).Port
	s := &formPostSite{idplug: fmt.Sprintf("http://localhost:%d", port), other: fmt.Sprintf("http://127.0.0.1:%d", port),
		f: signingIn("ada"), mux: http.NewServeMux(), lis: lis}
	s.f.auth = &sdk.Authorization{RedirectTo: s.other + "/provider", Session: sdk.Session{"k": "v"}}
	srv := newUnitServer(t, s.f, func(set *Settings) { set.PublicURL, _ = url.Parse(s.idplug) })
	s.mux.HandleFunc("/provider", func(w http.ResponseWriter, r *http.Request) {
		s.f.mu.Lock()
		state := s.f.request.State
		s.f.mu.Unlock()
		var fields strings.Builder
		for k, v := range extra {
			fmt.Fprintf(&fields, `<input type="hidden" name="%s" value="%s">`, html.EscapeString(k), html.EscapeString(v))
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><form id="f" method="post" action="%s/callback/acme">
<input type="hidden" name="code" value="c"><input type="hidden" name="state" value="%s">%s</form>
<script>document.getElementById("f").submit()</script>`, s.idplug, html.EscapeString(state), fields.String())
	})
	s.mux.Handle("/", srv)
	return s
}

// serve answers on the site's port with h (the site's mux, or one around it).
func (s *formPostSite) serve(t *testing.T, h http.Handler) {
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(s.lis) }()
	t.Cleanup(func() { _ = hs.Close() })
}

// A form_post callback larger than one sealed token (Entra ID's id_token
// with the user's groups) failed with a 500. In real Chromium: the provider
// at 127.0.0.1 posts a 40 KB id_token to idplug at localhost, the relay page
// posts its parts to /finish with the flow cookie, and the plugin gets the
// id_token whole.
func TestFormPostLargeCallbackInChromium(t *testing.T) {
	idToken := strings.Repeat("eyJncm91cHMiOlsiMDAwMDAwMDAtMDAwMC0wMDAwIl19.", 900) // 40 KB
	site := newFormPostSite(t, map[string]string{"id_token": idToken})
	site.mux.HandleFunc("/done", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<!doctype html><p id="done">signed in</p>`)
	})
	site.serve(t, site.mux)

	ctx := browsertest.New(t)
	wait, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(wait, chromedp.Navigate(site.idplug+"/sign-in/acme?returnTo=/done"), chromedp.WaitVisible("#done")); err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		text, _ := chromedp.Run(ctx, chromedp.Evaluate[string]("document.body ? document.body.innerText : ''"))
		t.Fatalf("the sign-in did not finish (%v) at %s: %.300s", err, loc, text)
	}
	site.f.mu.Lock()
	defer site.f.mu.Unlock()
	if site.f.data["id_token"] != idToken {
		t.Fatalf("the plugin got an id_token of %d bytes, sent %d", len(site.f.data["id_token"]), len(idToken))
	}
}
