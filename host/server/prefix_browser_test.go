package server

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/idplug/idplug/internal/browsertest"
	"github.com/idplug/idplug/sdk"
)

// Over http the cookies carry the public path, and a browser matches a
// cookie's Path against the path as each request spells it. Under a path
// that reaches idplug spelled more than one way ("(" as written or escaped
// by the page's links and the callback URL, "é" escaped in either case), or
// that net/http cannot write in a Path at all (non-ASCII bytes, dropped), the
// flow cookie never came back with the callback: session_invalid, and no
// sign-in finished. In real Chromium, against a provider that sends the
// browser back to the callback URL idplug gave it.
func TestSignInUnderAPublicPathSpelledManyWays(t *testing.T) {
	for _, prefix := range []string{"/id(p)", "/café"} {
		t.Run(prefix, func(t *testing.T) {
			lis, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			port := lis.Addr().(*net.TCPAddr).Port
			public, _ := url.Parse(fmt.Sprintf("http://localhost:%d%s", port, prefix))
			f := signingIn("ada")
			f.auth = &sdk.Authorization{RedirectTo: fmt.Sprintf("http://127.0.0.1:%d/provider", port), Session: sdk.Session{"k": "v"}}
			srv := newUnitServer(t, f, func(s *Settings) { s.PublicURL = public })
			mux := http.NewServeMux()
			mux.HandleFunc("/provider", func(w http.ResponseWriter, r *http.Request) {
				f.mu.Lock()
				req := f.request
				f.mu.Unlock()
				http.Redirect(w, r, req.RedirectURI+"?code=c&state="+url.QueryEscape(req.State), http.StatusFound)
			})
			mux.Handle("/", srv)
			hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
			go func() { _ = hs.Serve(lis) }()
			t.Cleanup(func() { _ = hs.Close() })

			ctx := browsertest.New(t)
			wait, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			err = chromedp.Do(wait, chromedp.Navigate(public.String()+"/"), chromedp.Click("#sign-in-acme"), chromedp.WaitVisible("#greeting"))
			if err != nil {
				loc, _ := chromedp.Run(ctx, chromedp.Location())
				text, _ := chromedp.Run(ctx, chromedp.Evaluate[string]("document.body ? document.body.innerText : ''"))
				t.Fatalf("not signed in (%v) at %s: %.300s", err, loc, text)
			}
			// Signed in, the page's sign-out works under the path too.
			browsertest.Step(t, wait, "sign out", chromedp.Click("#sign-out"), chromedp.WaitVisible("#sign-in-acme"))
		})
	}
}
