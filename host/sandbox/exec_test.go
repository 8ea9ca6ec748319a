package sandbox

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestForPlugin(t *testing.T) {
	m := map[string][]string{
		"logto-github": {"/a"}, "logto-*": {"/b"}, "log*": {"/c"}, "other-*": {"/d"}, "logto-github-*": {"/e"},
	}
	if got := strings.Join(ForPlugin(m, "logto-github"), " "); got != "/c /b /a" {
		t.Errorf("logto-github: %q", got)
	}
	if got := ForPlugin(m, "github"); got != nil {
		t.Errorf("github: %q", got)
	}
}

// launchSpec runs Command for a plugin named name in dir (a copy of this test
// binary, an ELF with a loader when it is dynamically linked) and returns the
// launcher's spec.
func launchSpec(t *testing.T, dir, name string, p Policy) (Spec, error) {
	t.Helper()
	path := filepath.Join(dir, "idplug-connector-"+name)
	self, err := os.ReadFile("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, self, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	report := Report{Mode: ModeAuto, Applied: []string{FeatureFS, FeatureSeccomp}}
	cmd, err := Command(Launch{Policy: p, Report: report, Name: name, File: f, Path: path, SocketDir: t.TempDir()})
	if err != nil {
		return Spec{}, err
	}
	var spec Spec
	for _, kv := range cmd.Env {
		if raw, ok := strings.CutPrefix(kv, envLaunch+"="); ok {
			if err := json.Unmarshal([]byte(raw), &spec); err != nil {
				t.Fatal(err)
			}
		}
	}
	return spec, nil
}

// TestCommandExec: exec entries and the family's support folder become executable
// with their loaders; the libraries become readable; another family gets nothing.
func TestCommandExec(t *testing.T) {
	dir := t.TempDir()
	tool := filepath.Join(t.TempDir(), "tool")
	self, _ := os.ReadFile("/proc/self/exe")
	if err := os.WriteFile(tool, self, 0o755); err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(dir, "fam-bundle")
	if err := os.MkdirAll(bundle, 0o755); err != nil {
		t.Fatal(err)
	}
	// A script in the support folder does not make its interpreter runnable.
	if err := os.WriteFile(filepath.Join(bundle, "cli.js"), []byte("#!/usr/bin/env node\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "node"), self, 0o755); err != nil {
		t.Fatal(err)
	}
	p := Policy{Exec: map[string][]string{"fam-*": {tool}}}
	spec, err := launchSpec(t, dir, "fam-a", p)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{tool, bundle} {
		if !slices.Contains(spec.Exec, want) {
			t.Errorf("exec %v lacks %s", spec.Exec, want)
		}
	}
	if slices.Contains(spec.Exec, "/usr/bin/env") {
		t.Errorf("a script's interpreter became executable: %v", spec.Exec)
	}
	if !slices.Contains(spec.Read, "/sys/fs/cgroup") {
		t.Errorf("read %v lacks the cgroup limits", spec.Read)
	}
	other, err := launchSpec(t, dir, "other-a", p)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range other.Exec {
		if e == tool || strings.HasPrefix(e, dir) {
			t.Errorf("another family may execute %s", e)
		}
	}
	for _, r := range other.Read {
		if strings.HasPrefix(r, dir) {
			t.Errorf("another family may read %s", r)
		}
	}
	// A missing or non-executable exec entry is an error that names it.
	for _, bad := range []string{filepath.Join(dir, "missing"), filepath.Join(bundle, "lib.txt")} {
		_ = os.WriteFile(filepath.Join(bundle, "lib.txt"), nil, 0o644)
		_, err := launchSpec(t, t.TempDir(), "x", Policy{Exec: map[string][]string{"x": {bad}}})
		if err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("exec %s: err = %v", bad, err)
		}
	}
	// A support folder that others could change refuses the start.
	if err := os.Chmod(bundle, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, err := launchSpec(t, dir, "fam-b", Policy{}); err == nil || !strings.Contains(err.Error(), "writable by other users") {
		t.Errorf("writable support folder: err = %v", err)
	}
}
