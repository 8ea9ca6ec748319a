package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/idplug/idplug/internal/browsertest"
	"github.com/idplug/idplug/internal/oidctest"
	"github.com/idplug/idplug/internal/plugintest"
	"github.com/idplug/idplug/internal/testport"
)

// TestBrowserSignInWithLogtoNextApp: the Next.js (Pages Router) app of Logto's
// guide (scripts/relying-parties/next-app, with @logto/next) signs in through
// idplug as its OpenID Provider, in real headless Chromium: the app's sign-in
// link, idplug, the upstream provider (which signs in by itself), back to the
// app showing the ID token's claims and userinfo, then the app's sign-out
// through idplug's end_session. Screenshots go to artifacts/browser/.
func TestBrowserSignInWithLogtoNextApp(t *testing.T) {
	root, err := plugintest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	appDir := buildNextApp(t, root)

	appURL := "http://127.0.0.1:" + strconv.Itoa(testport.Free(t))
	secret := oidctest.NewClientSecret(t)
	// @logto/next's routes: the callback below baseUrl, and back to baseUrl
	// itself after signing out.
	e := startProvider(t, map[string]any{"id": "next-app", "secret": secret,
		"redirect_uris": []string{appURL + "/api/logto/sign-in-callback"}, "post_logout_redirect_uris": []string{appURL},
		"connectors": []string{"acme"}})
	startNextApp(t, appDir, appURL, map[string]string{
		// The SDK takes the provider's base URL and finds the issuer at {endpoint}/oidc.
		"LOGTO_ENDPOINT":      strings.TrimSuffix(e.issuer, "/oidc"),
		"LOGTO_APP_ID":        "next-app",
		"LOGTO_APP_SECRET":    secret,
		"LOGTO_BASE_URL":      appURL,
		"LOGTO_COOKIE_SECRET": oidctest.NewClientSecret(t),
	})

	shots := filepath.Join(root, "artifacts", "browser")
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := browsertest.New(t)
	// Start the browser on the session's context: a step's shorter one ends
	// with the step.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	step := browserSteps(t, ctx, shots, "next-app", e.idplug)

	step("open the app", chromedp.Navigate(appURL), chromedp.WaitVisible("#sign-in"), browsertest.Shot(shots, "next-app-1-signed-out"))
	if s := browsertest.Text(t, ctx, "#status"); s != "Signed out" {
		t.Fatalf("status before sign-in = %q", s)
	}
	// The app shows the claims, or Next.js its error page when the SDK threw.
	step("sign in (the provider signs in by itself)", chromedp.Click("#sign-in"), chromedp.WaitVisible("#claims, .next-error-h1"), browsertest.Shot(shots, "next-app-2-signed-in"))
	if ok, _ := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!document.querySelector('#claims')")); !ok {
		text, _ := chromedp.Run(ctx, chromedp.Evaluate[string]("document.body.innerText"))
		t.Fatalf("back at the app after signing in, it shows %q instead of the claims (its log above says why)\nidplug's log:\n%s", text, e.idplug.logs)
	}

	want := oidctest.DefaultAccount()
	var claims, info map[string]any
	if err := json.Unmarshal([]byte(browsertest.Text(t, ctx, "#claims")), &claims); err != nil {
		t.Fatalf("#claims: %v", err)
	}
	if err := json.Unmarshal([]byte(browsertest.Text(t, ctx, "#userinfo")), &info); err != nil {
		t.Fatalf("#userinfo: %v", err)
	}
	sub, _ := claims["sub"].(string)
	if sub == "" || sub == want.Sub || claims["iss"] != e.issuer || claims["email"] != want.Claims["email"] || claims["name"] != want.Claims["name"] || claims["connector"] != "acme" {
		t.Errorf("ID token claims = %v; want sub (not the upstream %q), iss %s, email %v, name %v, connector acme", claims, want.Sub, e.issuer, want.Claims["email"], want.Claims["name"])
	}
	if info["sub"] != sub || info["email"] != want.Claims["email"] || info["connector"] != "acme" {
		t.Errorf("userinfo = %v; want sub %s, email %v, connector acme", info, sub, want.Claims["email"])
	}
	if s := browsertest.Text(t, ctx, "#status"); s != "Signed in as "+want.Claims["name"].(string) {
		t.Errorf("status = %q", s)
	}

	// @logto/next sends client_id and post_logout_redirect_uri, no
	// id_token_hint: idplug asks the person before signing out.
	const confirm = `form[action$="/oidc/end_session/confirm"] #sign-out`
	step("sign out in the app", chromedp.Click("#sign-out"), chromedp.WaitVisible(confirm), browsertest.Shot(shots, "next-app-3-confirm-sign-out"))
	step("confirm at idplug", watchCSP, chromedp.Click(confirm), chromedp.WaitVisible("#sign-in"), browsertest.Shot(shots, "next-app-4-signed-out"))
	if s := browsertest.Text(t, ctx, "#status"); s != "Signed out" {
		t.Errorf("status after sign-out = %q", s)
	}
	// idplug's own sign-in ended too, and the app revoked its refresh token
	// (client_secret_basic at the revocation endpoint) before leaving.
	step("idplug's session ended", chromedp.Navigate(e.idplug.URL+"/"), chromedp.WaitVisible("#sign-in-acme"), browsertest.Shot(shots, "next-app-5-idplug-signed-out"))
	// Stopped first: idplug writes request lines a moment later (buffered,
	// then through a pipe), all of them by the time it has exited.
	e.idplug.stop(t)
	if got := requestStatuses(e.idplug.logs.String(), "/oidc/revoke"); !slices.Equal(got, []int{200}) {
		t.Errorf("revocation requests answered %v, want one 200", got)
	}
}

// requestStatuses lists the statuses idplug logged for requests to path.
func requestStatuses(log, path string) []int {
	var out []int
	for _, line := range strings.Split(log, "\n") {
		var entry struct {
			Message string `json:"@message"`
			Path    string `json:"path"`
			Status  int    `json:"status"`
		}
		if json.Unmarshal([]byte(line), &entry) == nil && entry.Message == "request" && entry.Path == path {
			out = append(out, entry.Status)
		}
	}
	return out
}

// browserSteps returns the step function of a browser test: each step has 30
// seconds; one that fails says where the browser was and what it showed, with
// the page's Content-Security-Policy violations (see watchCSP) and idplug's log,
// and leaves a screenshot, name-failed.png, in shots.
func browserSteps(t *testing.T, ctx context.Context, shots, name string, p *idplugProc) func(what string, actions ...chromedp.Action[chromedp.Void]) {
	return func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		stepCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(stepCtx, actions...); err != nil {
			where, _ := chromedp.Run(ctx, chromedp.Location())
			text, _ := chromedp.Run(ctx, chromedp.Evaluate[string]("document.body ? document.body.innerText : ''"))
			csp, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify(window.cspViolations || [])`))
			_ = chromedp.Do(ctx, browsertest.Shot(shots, name+"-failed"))
			t.Fatalf("%s: %v\nthe browser is at %s, showing:\n%s\nContent-Security-Policy violations there: %s\nidplug's log:\n%s", what, err, where, text, csp, p.logs)
		}
	}
}

// watchCSP records the page's Content-Security-Policy violations in
// window.cspViolations, for a failed step to report.
var watchCSP chromedp.Action[chromedp.Void] = func(ctx context.Context, target *chromedp.Target) (chromedp.Void, error) {
	_, err := chromedp.Evaluate[bool](`document.addEventListener('securitypolicyviolation',
		e => (window.cspViolations ||= []).push(e.violatedDirective + ' blocked ' + e.blockedURI)), true`)(ctx, target)
	return chromedp.Void{}, err
}

// nextBuild is the app's build, made once per test process.
var nextBuild struct {
	once sync.Once
	err  error
}

// buildNextApp runs `next build` into the app's .next folder, unless the build
// there is of the same sources (a stamp of them is kept beside it), and returns
// the app's folder.
func buildNextApp(t *testing.T, root string) string {
	t.Helper()
	dir := filepath.Join(root, "scripts", "relying-parties", "next-app")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "next", "package.json")); err != nil {
		t.Fatalf("the Next.js app's packages are not installed in %s: run scripts/setup (%v)", dir, err)
	}
	nextBuild.once.Do(func() { nextBuild.err = buildNextAppOnce(t, dir) })
	if nextBuild.err != nil {
		t.Fatal(nextBuild.err)
	}
	return dir
}

func buildNextAppOnce(t *testing.T, dir string) error {
	stamp, err := nextSourceStamp(dir)
	if err != nil {
		return err
	}
	stampFile := filepath.Join(dir, ".next", "source-stamp")
	built := func() bool {
		b, err := os.ReadFile(stampFile)
		_, idErr := os.Stat(filepath.Join(dir, ".next", "BUILD_ID"))
		return err == nil && idErr == nil && string(b) == stamp
	}
	if built() {
		return nil
	}
	// Another test process may be building the same folder: one at a time.
	lock, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if built() {
		return nil
	}
	_ = os.Remove(stampFile)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	started := time.Now()
	cmd := exec.CommandContext(ctx, "node", filepath.Join("node_modules", "next", "dist", "bin", "next"), "build")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NEXT_TELEMETRY_DISABLED=1", "NODE_ENV=production")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("next build: %v\n%s", err, out)
	}
	t.Logf("next build took %v", time.Since(started).Round(time.Second))
	return os.WriteFile(stampFile, []byte(stamp), 0o644)
}

// nextSourceStamp hashes what the build is made of: the lock file, the
// package and Next.js settings, and the app's pages and modules.
func nextSourceStamp(dir string) (string, error) {
	h := sha256.New()
	files := []string{"package.json", "package-lock.json", "next.config.mjs"}
	for _, sub := range []string{"pages", "libraries"} {
		err := filepath.WalkDir(filepath.Join(dir, sub), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(dir, path)
			files = append(files, rel)
			return nil
		})
		if err != nil {
			return "", err
		}
	}
	slices.Sort(files)
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", f, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// startNextApp runs `next start` on appURL's port with env, and returns once
// it says it is ready; the test stops it when it ends.
func startNextApp(t *testing.T, dir, appURL string, env map[string]string) {
	t.Helper()
	port := appURL[strings.LastIndexByte(appURL, ':')+1:]
	cmd := exec.Command("node", filepath.Join("node_modules", "next", "dist", "bin", "next"), "start", "-p", port, "-H", "127.0.0.1")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NEXT_TELEMETRY_DISABLED=1", "NODE_ENV=production")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stderr = testLog{t, "next-app"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		signaled := false
		for sc.Scan() {
			t.Log("next-app: " + sc.Text())
			if !signaled && strings.Contains(sc.Text(), "Ready") {
				signaled = true
				close(ready)
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		exited := make(chan struct{})
		go func() { <-done; _ = cmd.Wait(); close(exited) }()
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})
	select {
	case <-ready:
	case <-done:
		t.Fatal("next start exited before it was ready")
	case <-time.After(60 * time.Second):
		t.Fatal("next start was not ready within 60s")
	}
}
