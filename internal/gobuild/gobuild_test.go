package gobuild

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestBuildsStaticUnlessAsked: a command is built static, without the
// builder's paths, unless the environment asks for cgo.
func TestBuildsStaticUnlessAsked(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a command")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "fakeprovider")
	if msg, err := Command(context.Background(), "../..", "-o", out, "./sdk/connectortest/cmd/fakeprovider").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, msg)
	}
	info, err := exec.Command("go", "version", "-m", out).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath=true"} {
		if !strings.Contains(string(info), want) {
			t.Errorf("build settings lack %s:\n%s", want, info)
		}
	}
	t.Setenv("CGO_ENABLED", "1")
	if env := Command(context.Background(), ".").Env; strings.Contains(strings.Join(env, "\n"), "CGO_ENABLED=0") {
		t.Error("CGO_ENABLED=1 in the environment was overridden")
	}
}

// writeCommand writes a module of one command printing word into dir.
func writeCommand(t *testing.T, dir, word string) {
	t.Helper()
	files := map[string]string{
		"go.mod":  "module example.com/word\n\ngo 1.26\n",
		"main.go": "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Print(\"" + word + "\") }\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func runCommand(t *testing.T, bin string) string {
	t.Helper()
	out, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatalf("%s: %v", bin, err)
	}
	return string(out)
}

// TestBuildKeepsNoStaleCommand: a kept command serves the next build only while
// its source is the same, whichever folder the module is built from; a
// caller's copy changed on disk does not change the kept one; builds of one
// command at once each get a whole binary.
func TestBuildKeepsNoStaleCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a command")
	}
	kept := t.TempDir()
	t.Setenv(EnvCacheDir, kept)
	src, outs := t.TempDir(), t.TempDir()
	writeCommand(t, src, "one")
	first := filepath.Join(outs, "bin", "first") // a folder to make, as go build -o makes it
	if err := Build(context.Background(), src, ".", first); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(kept); len(entries) != 2 { // the command and its lock
		t.Fatalf("kept %v, want the command and its lock", entries)
	}
	if got := runCommand(t, first); got != "one" {
		t.Fatalf("first build prints %q, want one", got)
	}
	// The same module in another folder (another clone, a module a test
	// generates anew) is the same kept command, rebuilt when its source differs.
	clone := t.TempDir()
	writeCommand(t, clone, "cloned")
	if err := Build(context.Background(), clone, ".", filepath.Join(outs, "cloned")); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(kept); len(entries) != 2 {
		t.Fatalf("another folder of the same module kept %v, want one command and its lock", entries)
	}
	if got := runCommand(t, filepath.Join(outs, "cloned")); got != "cloned" {
		t.Fatalf("the other folder's build prints %q, want cloned", got)
	}
	if err := Build(context.Background(), src, ".", first); err != nil {
		t.Fatal(err)
	}
	if got := runCommand(t, first); got != "one" {
		t.Fatalf("built from the first folder again, it prints %q, want one", got)
	}
	// A test corrupting its copy of a plugin.
	if err := os.WriteFile(first, []byte("#!/bin/sh\necho corrupted\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	again := filepath.Join(outs, "again")
	if err := Build(context.Background(), src, ".", again); err != nil {
		t.Fatal(err)
	}
	if got := runCommand(t, again); got != "one" {
		t.Fatalf("after a caller changed its copy, the build prints %q, want one", got)
	}
	writeCommand(t, src, "two")
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			errs[i] = Build(context.Background(), src, ".", filepath.Join(outs, fmt.Sprint("same-time-", i)))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
		if got := runCommand(t, filepath.Join(outs, fmt.Sprint("same-time-", i))); got != "two" {
			t.Fatalf("after the source changed, build %d prints %q, want two", i, got)
		}
	}
}

// TestPruneRemovesOnlyOldUnlockedCommands: kept commands unused for keptFor go,
// with their locks; recent ones and one another process holds stay.
func TestPruneRemovesOnlyOldUnlockedCommands(t *testing.T) {
	dir := t.TempDir()
	old := time.Now().Add(-2 * keptFor)
	for _, name := range []string{"old", "recent", "held"} {
		for _, f := range []string{name, name + ".lock"} {
			if err := os.WriteFile(filepath.Join(dir, f), nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if name != "recent" {
			if err := os.Chtimes(filepath.Join(dir, name), old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	held, err := os.Open(filepath.Join(dir, "held.lock"))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if err := syscall.Flock(int(held.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	prune(dir, time.Now().Add(-keptFor))
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if want := "held held.lock recent recent.lock"; strings.Join(left, " ") != want {
		t.Fatalf("left %q, want %q", strings.Join(left, " "), want)
	}
}

// TestFolderOthersMayWriteIsNotUsed: a folder of kept commands another user may
// write (one could swap in what the tests run) is left alone; the command is
// built where asked.
func TestFolderOthersMayWriteIsNotUsed(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a command")
	}
	shared := t.TempDir()
	if err := os.Chmod(shared, 0o777); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvCacheDir, shared)
	src, out := t.TempDir(), filepath.Join(t.TempDir(), "cmd")
	writeCommand(t, src, "mine")
	t.Setenv("TMPDIR", t.TempDir()) // src is no longer inside it
	if err := Build(context.Background(), src, ".", out); err != nil {
		t.Fatal(err)
	}
	if got := runCommand(t, out); got != "mine" {
		t.Fatalf("the build prints %q, want mine", got)
	}
	if entries, _ := os.ReadDir(shared); len(entries) != 0 {
		t.Fatalf("a folder others may write was used: %v", entries)
	}
}

// TestCommandNameIsTheImportPath: a command is named by its module's path and
// its folder below the module's root, whatever folder holds the module.
func TestCommandNameIsTheImportPath(t *testing.T) {
	for _, c := range []struct{ gomod, pkg, want string }{
		{"module example.com/m\n\ngo 1.26\n", ".", "example.com/m"},
		{"// a comment\nmodule example.com/m // trailing\n", "cmd/x", "example.com/m/cmd/x"},
		{"module \"example.com/quoted\"\n", "cmd/x", "example.com/quoted/cmd/x"},
	} {
		root := t.TempDir()
		if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte(c.gomod), 0o644); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(root, filepath.FromSlash(c.pkg))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if got := commandName(dir); got != c.want {
			t.Errorf("go.mod %q, package %s: named %q, want %q", c.gomod, c.pkg, got, c.want)
		}
	}
	// No go.mod above: the folder itself (unless the temporary folder is in a module).
	dir := t.TempDir()
	for up := filepath.Dir(dir); ; up = filepath.Dir(up) {
		if _, err := os.Stat(filepath.Join(up, "go.mod")); err == nil {
			t.Skipf("%s has a go.mod above it", dir)
		}
		if up == filepath.Dir(up) {
			break
		}
	}
	if got := commandName(dir); got != dir {
		t.Errorf("without a go.mod, named %q, want the folder %s", got, dir)
	}
}
