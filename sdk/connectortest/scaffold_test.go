package connectortest_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// repoRoot is the folder holding go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found")
		}
		dir = parent
	}
}

// TestScaffold runs scripts/new-connector into a folder of this module (its name
// starts with a dot, so `./...` and `make build` never see it) and checks that what
// it writes is formatted, vets clean and passes its own tests, the kit included.
func TestScaffold(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and tests a generated plugin")
	}
	root := repoRoot(t)
	dir, err := os.MkdirTemp(filepath.Join(root, "plugins"), ".scaffold-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	pkg := "./plugins/" + filepath.Base(dir)

	run := func(name string, args ...string) (string, error) {
		cmd := exec.CommandContext(t.Context(), name, args...)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run("scripts/new-connector", "--dir", dir, "acme-id"); err != nil {
		t.Fatalf("new-connector: %v\n%s", err, out)
	}
	for _, f := range []string{"main.go", "connector_test.go", "README.md"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s was not written: %v", f, err)
		}
	}
	if out, err := run("gofmt", "-l", dir); err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("gofmt -l: %v %s", err, out)
	}
	if out, err := run("go", "vet", pkg); err != nil {
		t.Fatalf("go vet: %v\n%s", err, out)
	}
	if out, err := run("go", "test", "-race", "-count=1", pkg); err != nil {
		t.Fatalf("go test: %v\n%s", err, out)
	}

	// It never overwrites, and refuses names that cannot be plugin file names.
	if out, err := run("scripts/new-connector", "--dir", dir, "acme-id"); exitCode(err) != 1 || !strings.Contains(out, "not empty") {
		t.Errorf("into a non-empty folder: %v %s", err, out)
	}
	for _, name := range []string{"Acme", "-acme", "acme id", "acme/../x"} {
		if out, err := run("scripts/new-connector", "--dir", filepath.Join(t.TempDir(), "x"), name); exitCode(err) != 2 {
			t.Errorf("new-connector %q: %v %s, want exit status 2", name, err, out)
		}
	}
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return 0
}
