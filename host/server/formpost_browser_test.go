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
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := lis.Addr().(*net.TCPAddr).Port
	idplug := fmt.Sprintf("http://localhost:%d", port)
	other := fmt.Sprintf("http://127.0.0.1:%d", port)

	f := signingIn("ada")
	f.auth = &sdk.Authorization{RedirectTo: other + "/provider", Session: sdk.Session{"k": "v"}}
	srv := newUnitServer(t, f, func(s *Settings) { s.PublicURL, _ = url.Parse(idplug) })

	var landed atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("/provider", func(w http.ResponseWriter, r *http.Request) {
		// The provider's form_post page: on another site, it posts the callback.
		f.mu.Lock()
		state := f.request.State
		f.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><form id="f" method="post" action="%s/callback/acme">
<input type="hidden" name="code" value="c"><input type="hidden" name="state" value="%s"></form>
<script>document.getElementById("f").submit()</script>`, idplug, html.EscapeString(state))
	})
	mux.HandleFunc("/hop", func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.Host, "localhost") {
			http.Redirect(w, r, other+"/landed", http.StatusFound) // the provider sends the code to the app
			return
		}
		http.NotFound(w, r)
	})
	mux.HandleFunc("/landed", func(w http.ResponseWriter, r *http.Request) {
		landed.Store(true)
		fmt.Fprint(w, `<!doctype html><p id="landed">the app got its code</p>`)
	})
	mux.Handle("/", srv)
	var seen []string
	var seenMu sync.Mutex
	logged := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seenMu.Lock()
		seen = append(seen, r.Method+" "+r.Host+r.URL.Path)
		seenMu.Unlock()
		mux.ServeHTTP(w, r)
	})
	hs := &http.Server{Handler: logged, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(lis) }()
	t.Cleanup(func() { _ = hs.Close() })

	ctx := browsertest.New(t)
	wait, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	err = chromedp.Do(wait, chromedp.Navigate(idplug+"/sign-in/acme?returnTo=/hop"), chromedp.WaitVisible("#landed"))
	if err != nil || !landed.Load() {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		seenMu.Lock()
		defer seenMu.Unlock()
		t.Fatalf("the app never got the code (%v): the browser stopped at %s; requests: %q", err, loc, seen)
	}
}
