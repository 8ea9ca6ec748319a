package main

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/idplug/idplug/internal/browsertest"

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

// startDemo runs scripts/run-demo with binaries built for this test and free ports,
// and returns the URL it tells people to open. env adds settings (IDPLUG_DEMO_HOST).
func startDemo(t *testing.T, root string, env ...string) string {
	t.Helper()
	url, _, _ := launchDemo(t, root, env...)
	return url
}

// launchDemo is startDemo, also returning the script's process and its folder.
func launchDemo(t *testing.T, root string, env ...string) (string, *exec.Cmd, string) {
	t.Helper()
	plugins := pluginFolder(t, "oauth2", "oidc")
	dir := t.TempDir()
	cmd := exec.Command(filepath.Join(root, "scripts", "run-demo"))
	cmd.Dir = root
	cmd.Env = append(os.Environ(),
		"IDPLUG_DEMO_PORT="+strconv.Itoa(freePort(t)),
		"IDPLUG_DEMO_PROVIDER_PORT="+strconv.Itoa(freePort(t)),
		"IDPLUG_DEMO_DIR="+dir,
		"IDPLUG_BIN="+plugintest.Binary(t, "./host/cmd/idplug"),
		"IDPLUG_PLUGIN_DIR="+plugins,
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
		go func() {
			for range lines {
			}
		}()
		return strings.Fields(rest)[0], cmd, dir
	case <-time.After(60 * time.Second):
		t.Fatal("run-demo did not start within 60s")
	}
	return "", nil, ""
}

// freePort asks the kernel for a free loopback port. Another process could take it
// before the demo binds it; on a test machine that does not happen in practice.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
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
