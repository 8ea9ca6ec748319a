package main

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/idplug/idplug/internal/browsertest"
	"github.com/idplug/idplug/internal/testport"

	"github.com/chromedp/chromedp"
	"github.com/idplug/idplug/internal/plugintest"
)

// TestBrowserSignInWithTheDemo runs `make run`'s setup (scripts/run-demo: the local
// OpenID provider with its sign-in page, and idplug with the OAuth 2.0 plugin) and
// signs in and out in real headless Chromium, saving a screenshot of every step to
// artifacts/browser/.
func TestBrowserSignInWithTheDemo(t *testing.T) {
	root, err := plugintest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	demo := startDemo(t, root)

	shots := filepath.Join(root, "artifacts", "browser")
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := browsertest.New(t)

	browsertest.Step(t, ctx, "open the home page", chromedp.Navigate(demo), chromedp.WaitVisible("#sign-in-demo"), browsertest.Shot(shots, "1-home"))
	button := browsertest.Text(t, ctx, "#sign-in-demo")
	browsertest.Step(t, ctx, "continue with the provider", chromedp.Click("#sign-in-demo"), chromedp.WaitVisible("#username"), browsertest.Shot(shots, "2-provider-sign-in"))
	browsertest.Step(t, ctx, "sign in at the provider",
		chromedp.SendKeys("#username", "alice"),
		chromedp.SendKeys("#password", "any password"),
		chromedp.Click("#sign-in"),
		chromedp.WaitVisible("#greeting"),
		browsertest.Shot(shots, "3-signed-in"))
	greeting := browsertest.Text(t, ctx, "#greeting")
	checkProfile(t, ctx, "Local OpenID Provider")
	browsertest.Step(t, ctx, "sign out", chromedp.Click("#sign-out"), chromedp.WaitVisible("#sign-in-demo"), browsertest.Shot(shots, "4-signed-out"))
	afterSignOut := browsertest.Text(t, ctx, "#sign-in-demo")

	if strings.TrimSpace(button) != "Continue with Local OpenID Provider" {
		t.Errorf("button = %q", button)
	}
	if greeting != "Hello, alice" {
		t.Errorf("greeting = %q", greeting)
	}
	if strings.TrimSpace(afterSignOut) != "Continue with Local OpenID Provider" {
		t.Errorf("after sign-out = %q", afterSignOut)
	}
}

// TestDemoRunsAgainInItsFolder: a second `make run` in the same folder opens the
// store the first left beside its configuration (the OpenID Provider's signing
// keys and the sessions, sealed under the session key), where a new session key
// at every run made it fail to start.
func TestDemoRunsAgainInItsFolder(t *testing.T) {
	root, err := plugintest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	_, first, _ := launchDemo(t, root, "IDPLUG_DEMO_DIR="+dir)
	_ = syscall.Kill(-first.Process.Pid, syscall.SIGTERM)
	_ = first.Wait()
	if _, err := os.Stat(filepath.Join(dir, "idplug.db")); err != nil {
		t.Fatalf("the first run left no store: %v", err)
	}
	base := startDemo(t, root, "IDPLUG_DEMO_DIR="+dir) // fails the test unless idplug is ready
	resp, err := http.Get(base + "/oidc/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the second run's OpenID Provider answers %s", resp.Status)
	}
	if info, err := os.Stat(filepath.Join(dir, "session-key")); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("the session key file: %v, %v", info, err)
	}
}

// startDemo runs scripts/run-demo with binaries built for this test and free ports,
// and returns the URL it tells people to open. env adds settings (IDPLUG_DEMO_HOST).
func startDemo(t *testing.T, root string, env ...string) string {
	t.Helper()
	url, _, _ := launchDemo(t, root, env...)
	return url
}

// demoAppURLs maps the URL of a running demo to its app's (the second URL
// run-demo prints).
var demoAppURLs sync.Map

// launchDemo is startDemo, also returning the script's process and its folder.
func launchDemo(t *testing.T, root string, env ...string) (string, *exec.Cmd, string) {
	t.Helper()
	plugins := pluginFolder(t, "oauth2", "oidc")
	dir := t.TempDir()
	cmd := exec.Command(filepath.Join(root, "scripts", "run-demo"))
	cmd.Dir = root
	cmd.Env = append(os.Environ(),
		"IDPLUG_DEMO_PORT="+strconv.Itoa(testport.Free(t)),
		"IDPLUG_DEMO_PROVIDER_PORT="+strconv.Itoa(testport.Free(t)),
		"IDPLUG_DEMO_DIR="+dir,
		"IDPLUG_BIN="+plugintest.Binary(t, "./host/cmd/idplug"),
		"IDPLUG_PLUGIN_DIR="+plugins,
		"IDPLUG_DEMO_APP_PORT="+strconv.Itoa(testport.Free(t)),
		"IDPLUG_DEMO_APP_BIN="+plugintest.Binary(t, "./scripts/demo-app"),
	)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stderr = testLog{t, "demo"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// The script stops the provider and idplug when it is told to stop.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	select {
	case line, ok := <-lines:
		_, rest, found := strings.Cut(line, "open ")
		if !ok || !found {
			t.Fatalf("run-demo said %q", line)
		}
		base := strings.Fields(rest)[0]
		select {
		case line, ok := <-lines:
			_, rest, found := strings.Cut(line, "open ")
			if !ok || !found {
				t.Fatalf("run-demo said %q, want the demo app's URL", line)
			}
			demoAppURLs.Store(base, strings.TrimSuffix(strings.Fields(rest)[0], "."))
		case <-time.After(60 * time.Second):
			t.Fatal("run-demo did not say where the demo app is within 60s")
		}
		go func() {
			for range lines {
			}
		}()
		return base, cmd, dir
	case <-time.After(60 * time.Second):
		t.Fatal("run-demo did not start within 60s")
	}
	return "", nil, ""
}

type testLog struct {
	t      *testing.T
	prefix string
}

func (l testLog) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		l.t.Log(l.prefix + ": " + line)
	}
	return len(p), nil
}

// TestBrowserDemoAppSignsInThroughTheProvider drives the demo's app in Chromium:
// it signs in through idplug as its OpenID Provider (the chooser, the
// connector's sign-in at the local provider, back with a code), shows the
// claims, and signs out through idplug's end_session.
func TestBrowserDemoAppSignsInThroughTheProvider(t *testing.T) {
	root, err := plugintest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	demo := startDemo(t, root)
	v, _ := demoAppURLs.Load(demo)
	appURL, _ := v.(string)
	if appURL == "" {
		t.Fatal("run-demo named no demo app")
	}
	shots := filepath.Join(root, "artifacts", "browser")
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := browsertest.New(t)
	browsertest.Step(t, ctx, "open the app", chromedp.Navigate(appURL), chromedp.WaitVisible("#sign-in"), browsertest.Shot(shots, "app-1-home"))
	browsertest.Step(t, ctx, "sign in with idplug: the chooser", chromedp.Click("#sign-in"), chromedp.WaitVisible("#sign-in-demo"), browsertest.Shot(shots, "app-2-chooser"))
	browsertest.Step(t, ctx, "continue with the provider", chromedp.Click("#sign-in-demo"), chromedp.WaitVisible("#username"))
	browsertest.Step(t, ctx, "sign in at the provider",
		chromedp.SendKeys("#username", "alice"),
		chromedp.SendKeys("#password", "any password"),
		chromedp.Click("#sign-in"),
		chromedp.WaitVisible("#claims"),
		browsertest.Shot(shots, "app-3-signed-in"))
	greeting := browsertest.Text(t, ctx, "#greeting")
	claims := browsertest.Text(t, ctx, "#claims")
	checkProfile(t, ctx, "demo")
	browsertest.Step(t, ctx, "sign out through idplug", chromedp.Click("#sign-out"), chromedp.WaitVisible("#sign-in"), browsertest.Shot(shots, "app-4-signed-out"))

	if greeting != "Hello, Alice Example" {
		t.Errorf("greeting = %q", greeting)
	}
	for _, want := range []string{`"connector": "demo"`, `"email": "alice@example.com"`, `"sub":`} {
		if !strings.Contains(claims, want) {
			t.Errorf("claims lack %s:\n%s", want, claims)
		}
	}
	if strings.Contains(claims, `"sub": "alice"`) {
		t.Errorf("sub is the provider's own id:\n%s", claims)
	}
}

// checkProfile checks the signed-in page: the local provider's alice, with her
// name, email and picture, the connector she signed in with, and a sign-out
// button drawn in the page's font rather than the browser's control font.
func checkProfile(t *testing.T, ctx context.Context, connector string) {
	t.Helper()
	got, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]string](`(() => {
		const q = s => document.querySelector(s);
		const text = s => q(s) ? q(s).textContent.trim() : "";
		return {
			name: text("#user-name"), email: text("#user-email"), connector: text("#user-connector"),
			avatar: q("#avatar") ? q("#avatar").getAttribute("src") : "",
			buttonFont: getComputedStyle(q("#sign-out")).fontFamily,
			pageFont: getComputedStyle(document.body).fontFamily,
		};
	})()`))
	if err != nil {
		t.Fatalf("reading the signed-in page: %v", err)
	}
	want := map[string]string{"name": "Alice Example", "email": "alice@example.com", "connector": connector,
		"avatar": "https://example.com/alice.png", "buttonFont": got["pageFont"]}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("signed-in page: %s = %q, want %q", k, got[k], v)
		}
	}
}
