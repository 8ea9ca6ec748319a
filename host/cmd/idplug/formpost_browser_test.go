package main

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/idplug/idplug/internal/browsertest"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/idplug/idplug/internal/plugintest"
)

// TestBrowserFormPostSignInWithTheOIDCDemo signs in with the demo's OpenID Connect
// connector, found by discovery, in real headless Chromium. The provider answers with
// response_mode=form_post, and idplug is reached at localhost while the provider is
// at 127.0.0.1: two sites, as in production, so the browser leaves the SameSite=Lax
// flow cookie out of the provider's POST. The sign-in succeeds through idplug's
// same-site relay, and no URL the browser visited carries the code.
func TestBrowserFormPostSignInWithTheOIDCDemo(t *testing.T) {
	root, err := plugintest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	demo := startDemo(t, root, "IDPLUG_DEMO_HOST=localhost")
	if !strings.HasPrefix(demo, "http://localhost:") {
		t.Fatalf("demo URL = %q, want localhost", demo)
	}
	shots := filepath.Join(root, "artifacts", "browser")
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := browsertest.New(t)

	// Every request the page makes, to check where the code went.
	var mu sync.Mutex
	var urls, posts []string
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok && e.Request != nil {
			mu.Lock()
			defer mu.Unlock()
			urls = append(urls, e.Request.URL)
			if e.Request.Method == "POST" {
				posts = append(posts, e.Request.URL)
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	browsertest.Step(t, ctx, "open the home page", chromedp.Navigate(demo), chromedp.WaitVisible("#sign-in-local-oidc"))
	browsertest.Step(t, ctx, "continue with the OpenID Connect connector", chromedp.Click("#sign-in-local-oidc"), chromedp.WaitVisible("#username"), browsertest.Shot(shots, "oidc-1-provider-sign-in"))
	browsertest.Step(t, ctx, "sign in at the provider",
		chromedp.SendKeys("#username", "alice"),
		chromedp.SendKeys("#password", "any password"),
		chromedp.Click("#sign-in"),
		chromedp.WaitVisible("#greeting"),
		browsertest.Shot(shots, "oidc-2-signed-in"))
	greeting := browsertest.Text(t, ctx, "#greeting")
	browsertest.Step(t, ctx, "read /user", chromedp.Navigate(strings.TrimSuffix(demo, "/")+"/user"))
	user := browsertest.Text(t, ctx, "body")
	mu.Lock()
	defer mu.Unlock()
	if greeting != "Hello, alice" {
		t.Errorf("greeting = %q", greeting)
	}
	if !strings.Contains(user, `"connector":"local-oidc"`) || !strings.Contains(user, `"email":"alice@example.com"`) {
		t.Errorf("/user = %s", user)
	}
	var sawPost, sawRelay bool
	for _, p := range posts {
		sawPost = sawPost || strings.HasSuffix(p, "/callback/local-oidc")
		sawRelay = sawRelay || strings.HasSuffix(p, "/callback/local-oidc/finish")
	}
	if !sawPost || !sawRelay {
		t.Errorf("POSTs = %v, want the provider's form_post and the relay", posts)
	}
	for _, u := range urls {
		if strings.Contains(u, "code=") && strings.Contains(u, "localhost") {
			t.Errorf("a URL to idplug carries the code: %s", u)
		}
	}
}
