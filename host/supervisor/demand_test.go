package supervisor_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/idplug/idplug/host/supervisor"
	"github.com/idplug/idplug/internal/plugintest"
)

// TestOnDemand: the scan reads every plugin's metadata and leaves it idle;
// Keep starts the wanted ones and stops the rest, whose metadata stays known.
func TestOnDemand(t *testing.T) {
	dir := plugintest.Folder(t)
	plugintest.Install(t, dir, plugintest.Binary(t, examplePkg), "example")
	plugintest.Install(t, dir, plugintest.Binary(t, "./plugins/github"), "github")
	s := open(t, dir, supervisor.Options{OnDemand: true})
	ctx := t.Context()

	if n := len(s.Plugins()); n != 0 {
		t.Fatalf("%d plugins run after the scan; want none until a connector needs one", n)
	}
	if got := len(s.Catalog()); got != 2 {
		t.Fatalf("catalog holds %d plugins, want 2", got)
	}
	if m, ok := s.Metadata("github"); !ok || m.Name["en"] != "GitHub" || len(m.FormItems) == 0 {
		t.Fatalf("metadata of the idle github plugin: %+v, %v", m, ok)
	}

	s.Keep(ctx, []string{"example"})
	if _, ok := s.Plugin("example"); !ok || len(s.Plugins()) != 1 {
		t.Fatalf("after Keep(example): running %v", s.Plugins())
	}
	s.Keep(ctx, []string{"github"})
	if _, ok := s.Plugin("example"); ok {
		t.Fatal("example still routed after no connector needs it")
	}
	if _, ok := s.Plugin("github"); !ok {
		t.Fatal("github not running after Keep(github)")
	}
	// Start on demand is idempotent: the running process comes back.
	a, err := s.Start(ctx, "github")
	b, _ := s.Plugin("github")
	if err != nil || a != b {
		t.Fatalf("Start of a running plugin: %v, same process %v", err, a == b)
	}
	if _, err := s.Start(ctx, "nope"); err == nil || !strings.Contains(err.Error(), `no plugin with id "nope"`) {
		t.Fatalf("Start of an unknown id: %v", err)
	}
}

// TestOnDemandRefusesASwappedBinary: an idle plugin's file replaced (behind
// the scan's back) by a binary that claims another plugin's id does not start
// under the id the operator's connectors name.
func TestOnDemandRefusesASwappedBinary(t *testing.T) {
	dir := plugintest.Folder(t)
	path := plugintest.Install(t, dir, plugintest.Binary(t, examplePkg), "example")
	s := open(t, dir, supervisor.Options{OnDemand: true})

	github := plugintest.Binary(t, "./plugins/github")
	tmp := filepath.Join(dir, ".swap")
	if err := plugintest.CopyFile(github, tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	_, err := s.Start(context.Background(), "example")
	if err == nil || !strings.Contains(err.Error(), `now reports id "github", not "example"`) {
		t.Fatalf("Start of a swapped binary: %v", err)
	}
	if n := len(s.Plugins()); n != 0 {
		t.Fatalf("%d plugins run after the refused start", n)
	}
}

// A plugin that fails to start on demand is not launched again at every call
// routed to it: anyone who reaches a sign-in route would make idplug launch
// processes as fast as they send requests. The next start waits out a
// backoff, and the answer says when it comes.
func TestFailedStartsOnDemandBackOff(t *testing.T) {
	dir := plugintest.Folder(t)
	path := plugintest.Install(t, dir, plugintest.Binary(t, examplePkg), "example")
	s := open(t, dir, supervisor.Options{OnDemand: true})
	// Behind the scan's back, the file becomes one that exits at once.
	tmp := filepath.Join(dir, ".swap")
	if err := os.WriteFile(tmp, []byte("#!/bin/sh\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	_, first := s.Start(t.Context(), "example")
	if first == nil || strings.Contains(first.Error(), "next try") {
		t.Fatalf("the first start: %v; want the start's own failure", first)
	}
	for range 3 {
		_, err := s.Start(t.Context(), "example")
		if err == nil || !strings.Contains(err.Error(), "failed to start") || !strings.Contains(err.Error(), "the next try is in") {
			t.Fatalf("a start right after a failed one: %v; want it refused until the backoff has passed", err)
		}
	}
}
