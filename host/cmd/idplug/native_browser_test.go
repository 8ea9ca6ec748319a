package main

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/idplug/idplug/internal/browsertest"
	"github.com/idplug/idplug/internal/plugintest"
	"golang.org/x/oauth2"
)

// TestBrowserNativeAppAsksFirst: a public client's loopback redirect URI
// matches on any port (RFC 8252 7.3), so any program on the device can listen
// on one and ask for a code. idplug shows the person a page naming the app and
// where the answer goes, before the first code and with single sign-on alike,
// in real headless Chromium; the page's form may answer to that loopback
// address (its Content-Security-Policy allows it), and Cancel sends
// access_denied.
func TestBrowserNativeAppAsksFirst(t *testing.T) {
	root, err := plugintest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	e := startProvider(t)

	// The native app's listener, on a port of its own choosing.
	type answer struct{ query url.Values }
	answers := make(chan answer, 4)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	app := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/cb" { // the browser's favicon.ico
			http.NotFound(w, r)
			return
		}
		answers <- answer{r.URL.Query()}
		_, _ = w.Write([]byte(`<p id="done">The app has its answer.</p>`))
	})}
	go func() { _ = app.Serve(lis) }()
	t.Cleanup(func() { _ = app.Close() })
	redirect := "http://" + lis.Addr().String() + "/cb"

	spa := oauth2.Config{ClientID: "spa", Endpoint: e.rp.Endpoint(), RedirectURL: redirect, Scopes: []string{"openid"}}
	shots := filepath.Join(root, "artifacts", "browser")
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := browsertest.New(t)
	step := browserSteps(t, ctx, shots, "native-app", e.idplug)
	received := func(what string) url.Values {
		t.Helper()
		select {
		case a := <-answers:
			return a.query
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: the app's listener got nothing", what)
			return nil
		}
	}

	// First sign-in: the upstream provider signs in by itself, then the page.
	verifier := oauth2.GenerateVerifier()
	step("sign in, up to the question", chromedp.Navigate(spa.AuthCodeURL("first", oauth2.S256ChallengeOption(verifier))),
		chromedp.WaitVisible("#continue"), browsertest.Shot(shots, "native-app-1-asks"))
	if got := browsertest.Text(t, ctx, "#app-target"); got != "http://"+lis.Addr().String() {
		t.Errorf("the page says the answer goes to %q", got)
	}
	if len(answers) != 0 {
		t.Fatal("the app got an answer before the person said anything")
	}
	step("continue", watchCSP, chromedp.Click("#continue"), chromedp.WaitVisible("#done"))
	q := received("continue")
	if q.Get("code") == "" || q.Get("state") != "first" || q.Get("iss") != e.issuer {
		t.Fatalf("the app got %v", q)
	}
	tctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if tok, err := spa.Exchange(tctx, q.Get("code"), oauth2.VerifierOption(verifier)); err != nil || tok.Extra("id_token") == nil {
		t.Fatalf("exchange: %v", err)
	}

	// Signed in now: a second request (any program's) still waits for the
	// person, and Cancel tells the app no.
	step("ask again with single sign-on", chromedp.Navigate(spa.AuthCodeURL("second", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))),
		chromedp.WaitVisible("#deny"), browsertest.Shot(shots, "native-app-2-asks-again"))
	if len(answers) != 0 {
		t.Fatal("with single sign-on, the app got an answer before the person said anything")
	}
	step("cancel", watchCSP, chromedp.Click("#deny"), chromedp.WaitVisible("#done"))
	if q := received("cancel"); q.Get("error") != "access_denied" || q.Get("code") != "" || q.Get("state") != "second" {
		t.Fatalf("after Cancel the app got %v", q)
	}
}
