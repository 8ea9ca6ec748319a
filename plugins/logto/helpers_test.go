package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/host/sandbox"
	"github.com/idplug/idplug/internal/gobuild"
	"github.com/idplug/idplug/internal/plugintest"
)

// built is what TestMain builds once: the bundle (scripts/build-logto-bundle) and
// the plugin in its production and test builds.
var built struct {
	dir        string // holds logto-bundle and logto-bundle.sha256
	bundle     string
	plugin     string // go build ./plugins/logto
	testPlugin string // go build -tags logtotest, with testBundle set to bundle
	err        error
}

var buildOnce sync.Once

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		_ = os.RemoveAll(built.dir)
	}
	plugintest.Cleanup()
	os.Exit(code)
}

func buildAll(dir string) error {
	root, err := plugintest.RepoRoot()
	if err != nil {
		return err
	}
	run := func(name string, args ...string) error {
		cmd := exec.Command(name, args...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s %v: %v\n%s", name, args, err, out)
		}
		return nil
	}
	if err := run("scripts/build-logto-bundle", dir); err != nil {
		return err
	}
	built.plugin = filepath.Join(dir, "bin", "plugin")
	built.testPlugin = filepath.Join(dir, "bin", "test-plugin")
	if err := gobuild.Build(context.Background(), root, "./plugins/logto", built.plugin); err != nil {
		return err
	}
	// Not kept: its -X names this run's bundle folder.
	args := []string{"-tags", "logtotest", "-ldflags", "-w -X main.testBundle=" + built.bundle, "-o", built.testPlugin, "./plugins/logto"}
	if out, err := gobuild.Command(context.Background(), root, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("go build %v: %v\n%s", args, err, out)
	}
	return nil
}

// needBuild skips in -short mode and fails when TestMain could not build.
func needBuild(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the Logto bundle and runs Node")
	}
	buildOnce.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "idplug-logto-")
		if built.err == nil {
			built.bundle = filepath.Join(built.dir, bundleDirName)
			built.err = buildAll(built.dir)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
}

// testPluginFile returns the test build of the plugin, named for connector, in a
// folder of its own (the test kit copies it from there).
func testPluginFile(t testing.TB, connector string) string {
	t.Helper()
	needBuild(t)
	path := filepath.Join(t.TempDir(), filePrefix+connector)
	if err := os.Link(built.testPlugin, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// folder lays out a plugin folder with the test build of the plugin for each
// connector, and the stub hosts the plugin maps (nil for none).
func folder(t testing.TB, hosts map[string]string, connectors ...string) string {
	t.Helper()
	needBuild(t)
	dir := plugintest.Folder(t)
	for _, c := range connectors {
		if err := os.Link(built.testPlugin, filepath.Join(dir, filePrefix+c)); err != nil {
			t.Fatal(err)
		}
	}
	if hosts != nil {
		data, _ := json.Marshal(hosts)
		if err := os.WriteFile(filepath.Join(dir, "logto-test-hosts.json"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// productionFolder lays out what make build does: the production plugin files, and
// a copy (hard links) of the bundle with its digest list beside them.
func productionFolder(t testing.TB, connectors ...string) string {
	t.Helper()
	needBuild(t)
	dir := plugintest.Folder(t)
	for _, c := range connectors {
		if err := os.Link(built.plugin, filepath.Join(dir, filePrefix+c)); err != nil {
			t.Fatal(err)
		}
	}
	if err := linkTree(built.bundle, filepath.Join(dir, bundleDirName)); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(built.dir, manifestName), filepath.Join(dir, manifestName)); err != nil {
		t.Fatal(err)
	}
	return dir
}

// linkTree recreates src at dst with hard links.
func linkTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		return os.Link(path, target)
	})
}

// testSandbox is how the tests confine the plugins in dir: idplug's default sandbox.
// The production build finds its bundle beside it and gets it without any entry
// (the support folder rule); the test build reads its bundle from elsewhere
// (testBundle) and the stub hosts from dir, so it gets those through sandbox.read
// and sandbox.exec entries for the whole logto-* family, as an operator would write.
//
// The test build's stub hosts send a connector's fixed https:// hosts to a stub on
// loopback that no configuration names and the egress proxy (rightly) refuses:
// with a stub map the plugins connect directly (egress open). Tests whose
// providers the configuration names (the real OpenID provider) keep the proxy.
func testSandbox(dir string) sandbox.Policy {
	read := []string{built.bundle, filepath.Join(built.dir, manifestName)}
	var egress sandbox.Egress
	if dir != "" {
		read = append(read, filepath.Join(dir, "logto-test-hosts.json"))
		var stubs map[string]string
		if raw, err := os.ReadFile(filepath.Join(dir, "logto-test-hosts.json")); err == nil && json.Unmarshal(raw, &stubs) == nil && len(stubs) > 0 {
			egress = sandbox.EgressOpen
		}
	}
	return sandbox.Policy{
		Read:   map[string][]string{"logto-*": read},
		Exec:   map[string][]string{"logto-*": {filepath.Join(built.bundle, nodeName)}},
		Egress: egress,
	}
}

// openHost opens dir with the host package, as idplug serve does, and logs to t.
func openHost(t testing.TB, dir string) *host.Host {
	t.Helper()
	return openHostLogging(t, dir, hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, Output: testWriter{t}}))
}

// openHostLogging is openHost with the host's (and so the plugins') log going to log.
func openHostLogging(t testing.TB, dir string, log hclog.Logger) *host.Host {
	t.Helper()
	return openHostWith(t, dir, host.Options{Logger: log})
}

// openHostWith is openHost with more of the host's options; the plugin folder and
// the sandbox are set here, and the log when opts has none.
func openHostWith(t testing.TB, dir string, opts host.Options) *host.Host {
	t.Helper()
	// A production layout needs no sandbox entries; the test build does.
	opts.PluginDir, opts.Sandbox = dir, sandbox.Policy{}
	if _, err := os.Stat(filepath.Join(dir, bundleDirName)); err != nil {
		opts.Sandbox = testSandbox(dir)
	}
	if opts.Logger == nil {
		opts.Logger = hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, Output: testWriter{t}})
	}
	h, err := host.Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	if refused := h.Refused(); len(refused) > 0 {
		t.Fatalf("refused: %+v", refused)
	}
	return h
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s", p)
	return len(p), nil
}
