package main

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestNodeKeepsServingPastAnException: an exception thrown in a callback of a
// connector's dependency (msal-node reads a field of an error answer's body in a
// response listener: a body of null throws) ended the Node process that serves
// every instance, and with it every call in flight. Run with the bundle's Node
// and the bridge's guards, a timer that throws and one that rejects leave it
// running; the message reaches stderr, scrubbed.
func TestNodeKeepsServingPastAnException(t *testing.T) {
	needBuild(t)
	// Beside the test, not in the bundle: a file there that its digest list does
	// not name would fail the bundle's check for the plugins of other tests.
	script := filepath.Join(t.TempDir(), "guards-check.mjs")
	guards := (&url.URL{Scheme: "file", Path: filepath.Join(built.bundle, "guards.mjs")}).String()
	if err := os.WriteFile(script, []byte(`import { keepServing } from '`+guards+`';
keepServing();
setTimeout(() => { null.error; }, 1);
setTimeout(() => { Promise.reject(new Error('a stray rejection')); }, 2);
setTimeout(() => { process.stdout.write('still serving\n'); }, 50);
`), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(built.bundle, nodeName), script)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || string(out) != "still serving\n" {
		t.Fatalf("Node: %v, stdout %q, stderr:\n%s", err, out, stderr.String())
	}
	for _, want := range []string{"bridge: uncaught exception: Cannot read properties of null", "bridge: unhandled rejection: a stray rejection"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
}
