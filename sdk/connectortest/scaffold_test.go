package connectortest_test

import (
	"encoding/json"
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
		if name == "go" && args[0] == "vet" {
			// vet compiles what it checks: static, as the repository's builds are (internal/gobuild).
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		}
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
	if out, err := run("go", "vet", "-trimpath", pkg); err != nil {
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

// TestScaffoldOwnModule scaffolds both shapes of connector into folders outside this
// module, as an author in their own repository would, with a go.mod that replaces
// the SDK by this checkout; builds and tests each (the kit included, the binary run
// by the host package), and loads both binaries with the idplug command. Nothing is
// fetched: GOPROXY=off, so everything comes from the module cache.
func TestScaffoldOwnModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and tests generated plugins")
	}
	root := repoRoot(t)
	// Built static and with -trimpath, as the repository builds its plugins
	// (internal/gobuild): the packages compiled for them serve here too.
	env := append(os.Environ(), "GOFLAGS=-mod=mod -trimpath", "CGO_ENABLED=0", "GOPROXY=off", "GOWORK=off")
	run := func(dir, name string, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), name, args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s in %s: %v\n%s", name, strings.Join(args, " "), dir, err, out)
		}
		return string(out)
	}
	pluginDir := t.TempDir()
	for _, kind := range []string{"oauth2", "rest"} {
		name := "acme-" + kind
		dir := filepath.Join(t.TempDir(), name)
		out := run(root, "scripts/new-connector", "--type", kind, "--replace", "--dir", dir, name)
		mod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"module example.com/idplug-connector-" + name, "replace github.com/idplug/idplug => " + root} {
			if !strings.Contains(string(mod), want) {
				t.Errorf("%s: go.mod lacks %q:\n%s", kind, want, mod)
			}
		}
		// The hint is a command that works, run as printed.
		_, hint, ok := strings.Cut(out, "then run: ")
		hint = strings.TrimSpace(hint)
		if !ok || hint != "(cd "+dir+" && go test ./...)" {
			t.Fatalf("%s: the next step printed is %q", kind, out)
		}
		run(dir, "gofmt", "-l", ".")
		run(dir, "go", "vet", "./...")
		run(dir, "bash", "-c", strings.TrimSuffix(strings.TrimPrefix(hint, "("), ")")+" -count=1")
		run(dir, "go", "build", "-o", filepath.Join(pluginDir, "idplug-connector-"+name), ".")
		// A connector's module needs what a connector needs: the SDK, its wire, and
		// the host that runs it in its tests; never the host's store, HTTP server,
		// OpenID Provider or test browsers. (The scaffold's go.mod lists the
		// checkout's requirements so that a first build resolves offline; what the
		// connector's packages and tests really use is what go list says.)
		used := run(dir, "go", "list", "-deps", "-test", "-f", "{{with .Module}}{{.Path}}{{end}}", "./...")
		for _, heavy := range []string{"jackc/pgx", "modernc.org/sqlite", "chromedp", "prometheus", "zitadel/oidc"} {
			if strings.Contains(used, heavy) {
				t.Errorf("%s: the connector's build uses %s", kind, heavy)
			}
		}
	}
	// The idplug command (of this checkout) loads both and reads their metadata.
	out := run(root, "go", "run", "./host/cmd/idplug", "plugins", "--plugin-dir", pluginDir, "--json")
	var listed struct {
		Plugins []struct {
			ID string `json:"id"`
		} `json:"plugins"`
	}
	if err := json.Unmarshal([]byte(out), &listed); err != nil {
		t.Fatalf("idplug plugins --json: %v\n%s", err, out)
	}
	var ids []string
	for _, p := range listed.Plugins {
		ids = append(ids, p.ID)
	}
	if strings.Join(ids, ",") != "acme-oauth2,acme-rest" {
		t.Errorf("idplug plugins lists %v; want acme-oauth2 and acme-rest:\n%s", ids, out)
	}
}

// TestScaffoldRequiresAPublishedSDK checks the go.mod written without --replace: a
// require of this checkout's version, no replace, and a hint that tidies first.
func TestScaffoldRequiresAPublishedSDK(t *testing.T) {
	root := repoRoot(t)
	dir := filepath.Join(t.TempDir(), "acme")
	cmd := exec.CommandContext(t.Context(), "scripts/new-connector", "--dir", dir, "--module", "github.com/acme/idplug-acme", "--sdk-version", "v1.4.0", "acme")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("new-connector: %v\n%s", err, out)
	}
	mod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(mod), "module github.com/acme/idplug-acme\n") || !strings.Contains(string(mod), "require github.com/idplug/idplug v1.4.0\n") || strings.Contains(string(mod), "replace") {
		t.Errorf("go.mod:\n%s", mod)
	}
	if !strings.Contains(string(out), "(cd "+dir+" && go mod tidy && go test ./...)") {
		t.Errorf("the next step printed is %q", out)
	}
	for _, bad := range [][]string{
		{"--type", "soap", "x"},
		{"--replace", "--sdk-version", "v1.0.0", "--dir", filepath.Join(t.TempDir(), "y"), "y"},
		{"--replace=" + t.TempDir(), "--dir", filepath.Join(t.TempDir(), "z"), "z"},
		{"--replace", "z"}, // inside this repository: no module of its own
	} {
		cmd := exec.CommandContext(t.Context(), "scripts/new-connector", bad...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); exitCode(err) != 2 {
			t.Errorf("new-connector %q: %v %s, want exit status 2", bad, err, out)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "plugins", "z")); err == nil {
		t.Errorf("a refused call wrote plugins/z")
	}
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return 0
}

// TestNewConnectorHelp checks that asking for help is a success, on standard output.
func TestNewConnectorHelp(t *testing.T) {
	for _, flag := range []string{"--help", "-h"} {
		cmd := exec.CommandContext(t.Context(), "scripts/new-connector", flag)
		cmd.Dir = repoRoot(t)
		out, err := cmd.Output()
		if err != nil || !strings.Contains(string(out), "--type oauth2") {
			t.Errorf("new-connector %s: %v, output %q; want exit status 0 and the usage", flag, err, out)
		}
	}
}
