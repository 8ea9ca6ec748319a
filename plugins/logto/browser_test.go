package main

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/idplug/idplug/internal/browsertest"

	"github.com/chromedp/chromedp"
	"github.com/idplug/idplug/internal/oidctest"
	"github.com/idplug/idplug/internal/plugintest"
	"github.com/idplug/idplug/internal/testport"
)

// TestBrowserSignIn signs in with real headless Chromium through idplug serve and
// Logto's OAuth 2.0 connector, behind the bridge, at the local OpenID provider's
// sign-in page. The production build runs under the default sandbox with no
// sandbox entries: its bundle is granted as its family's support folder.
func TestBrowserSignIn(t *testing.T) {
	needBuild(t)
	port := testport.Free(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	secret := oidctest.NewClientSecret(t)
	op := oidctest.Start(t, oidctest.Config{
		Interactions: oidctest.InteractionsForm,
		Clients:      []oidctest.Client{{ID: "idplug", Secret: secret, AuthMethod: "client_secret_basic", RedirectURIs: []string{base + "/callback/local"}}},
	})
	dir := t.TempDir()
	cfg := fmt.Sprintf(`listen: 127.0.0.1:%d
public_url: %s
plugin_dir: %s
session_keys: ["%s"]
connectors:
  - id: local
    plugin: logto-oauth2
    name: {en: Local OpenID Provider}
    config:
      authorizationEndpoint: %s
      tokenEndpoint: %s
      userInfoEndpoint: %s
      clientId: idplug
      clientSecret: %s
      tokenEndpointAuthMethod: client_secret_basic
      tokenEndpointResponseType: json
      scope: openid profile email
      profileMap: {id: sub, name: name, avatar: picture, email: email}
`, port, base, productionFolder(t, "oauth"), strings.Repeat("k", 48), op.AuthorizationEndpoint(), op.TokenEndpoint(), op.UserinfoEndpoint(), secret)
	if err := os.WriteFile(filepath.Join(dir, "idplug.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	startServe(t, plugintest.Binary(t, "./host/cmd/idplug"), filepath.Join(dir, "idplug.yaml"), base)

	ctx := browsertest.New(t)
	browsertest.Step(t, ctx, "open the home page", chromedp.Navigate(base+"/"), chromedp.WaitVisible("#sign-in-local"))
	browsertest.Step(t, ctx, "continue with the provider", chromedp.Click("#sign-in-local"), chromedp.WaitVisible("#username"))
	browsertest.Step(t, ctx, "sign in at the provider",
		chromedp.SendKeys("#username", "alice"),
		chromedp.SendKeys("#password", "any password"),
		chromedp.Click("#sign-in"),
		chromedp.WaitVisible("#greeting"))
	greeting, err := chromedp.Run(ctx, chromedp.Text("#greeting"))
	if err != nil {
		t.Fatal(err)
	}
	if greeting != "Hello, alice" {
		t.Errorf("greeting = %q", greeting)
	}
}

// startServe runs idplug serve until the test ends, and waits until it is ready.
func startServe(t *testing.T, bin, config, base string) {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--config", config)
	cmd.Stderr = testWriter{t}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			t.Fatal("idplug serve exited")
		default:
		}
		if res, err := client.Get(base + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("idplug serve was not ready within 60s")
}
