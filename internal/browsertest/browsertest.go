// Package browsertest starts the headless Chromium that the browser tests drive:
// Debian's chromium, with nothing that reaches outside the machine.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// New starts Chromium for t and returns the chromedp context of its first tab. The
// browser is stopped when t ends, and the whole session is bounded by 90 seconds.
// Chromium is required: the test fails, naming how to install it, when it is missing.
func New(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("Chromium is needed for the browser test: run `make test` (it installs the Debian package chromium)")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		// Chromium's own background traffic would only meet a closed network.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.WindowSize(900, 700),
	}
	base, cancelTimeout := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancelTimeout)
	// Chromium is started here, not at the test's first step, and a start that
	// fails (the process exits before it listens: seen once on a loaded machine)
	// is tried once more with a fresh profile. What it is then asked to do is the
	// test; its own start is not.
	for attempt := 1; ; attempt++ {
		allocCtx, cancelAlloc := chromedp.NewExecAllocator(base, append(opts, chromedp.UserDataDir(t.TempDir()))...)
		ctx, cancelCtx := chromedp.NewContext(allocCtx)
		err := chromedp.Do(ctx)
		if err == nil {
			t.Cleanup(func() { cancelCtx(); cancelAlloc() })
			return ctx
		}
		cancelCtx()
		cancelAlloc()
		if attempt == 2 || !strings.Contains(err.Error(), "failed to start") {
			t.Fatalf("start Chromium: %v", err)
		}
		t.Logf("Chromium did not start, trying once more: %v", err)
	}
}

// Step runs actions in the browser and fails t, saying what it was doing, when one
// of them fails.
func Step(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// Text is the text of the first element sel matches.
func Text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(sel))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// Shot saves the whole page as dir/name.png, for a person to look at.
func Shot(dir, name string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, target *chromedp.Target) (chromedp.Void, error) {
		png, err := chromedp.FullScreenshot(100)(ctx, target) // quality 100 means PNG
		if err != nil {
			return chromedp.Void{}, err
		}
		return chromedp.Void{}, os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
	}
}
