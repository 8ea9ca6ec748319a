package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/idplug/idplug/internal/plugintest"
)

// mapConfig writes an idplug.yaml whose connector "example" has the mapping
// block given (YAML, a "mapping:" key at the top), and returns its path.
func mapConfig(t *testing.T, mappingYAML string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("plugin_dir: ./plugins\nsession_keys: [\"${IDPLUG_SESSION_KEY}\"]\nconnectors:\n  - id: example\n    plugin: github\n")
	for line := range strings.SplitSeq(strings.TrimRight(mappingYAML, "\n"), "\n") {
		b.WriteString("    " + line + "\n")
	}
	path := filepath.Join(t.TempDir(), "idplug.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// runMap runs the idplug binary's map command.
func runMap(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(plugintest.Binary(t, "./host/cmd/idplug"), append([]string{"map"}, args...)...)
	cmd.Env = append(os.Environ(), "IDPLUG_SESSION_KEY="+testSessionKey)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), errOut.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), 0
}

// TestCookbookExamples runs every example of the mapping cookbook
// (docs/mapping/NAME: mapping.yaml, sample.json, and output.json or
// refused.txt) through `idplug map`, and checks that docs/operators.md shows
// each mapping exactly as tested.
func TestCookbookExamples(t *testing.T) {
	repo, err := plugintest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(repo, "docs")
	guide, err := os.ReadFile(filepath.Join(root, "operators.md"))
	if err != nil {
		t.Fatal(err)
	}
	dirs, err := filepath.Glob(filepath.Join(root, "mapping", "*"))
	if err != nil || len(dirs) < 6 {
		t.Fatalf("cookbook examples: %v %v", dirs, err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			m, err := os.ReadFile(filepath.Join(dir, "mapping.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(guide, m) {
				t.Errorf("docs/operators.md does not show %s/mapping.yaml as it is:\n%s", filepath.Base(dir), m)
			}
			out, errOut, code := runMap(t, "--config", mapConfig(t, string(m)), "--connector", "example", "--input", filepath.Join(dir, "sample.json"))
			if reason, err := os.ReadFile(filepath.Join(dir, "refused.txt")); err == nil {
				if code != 1 || !strings.Contains(errOut, "authorization_failed: "+strings.TrimSpace(string(reason))) {
					t.Fatalf("exit %d, stderr %q; want a refusal with %q", code, errOut, reason)
				}
				return
			}
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			want, err := os.ReadFile(filepath.Join(dir, "output.json"))
			if err != nil {
				t.Fatal(err)
			}
			var got, exp any
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("output is not JSON: %v\n%s", err, out)
			}
			if err := json.Unmarshal(want, &exp); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, exp) {
				t.Fatalf("idplug map printed\n%s\nwant\n%s", out, want)
			}
		})
	}
}

func TestMapCommandReportsEveryProblem(t *testing.T) {
	cfg := mapConfig(t, strings.Join([]string{
		"mapping:",
		"  name: raw.login +",
		"  email: profile.mail",
		"  claims: {sub: raw.x}",
	}, "\n"))
	sample := filepath.Join(t.TempDir(), "sample.json")
	if err := os.WriteFile(sample, []byte(`{"profile": {"id": "1"}, "raw": {"login": "ada"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := runMap(t, "--config", cfg, "--connector", "example", "--input", sample)
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{
		":7: connectors[0].mapping.name: column 12 of the expression: Syntax error",
		":8: connectors[0].mapping.email: column 8 of the expression: profile has no field \"mail\"",
		`:9: connectors[0].mapping.claims.sub: "sub" is set by idplug itself`,
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("no %q in:\n%s", want, errOut)
		}
	}

	cfg = mapConfig(t, "mapping:\n  name: raw.nick\n")
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--config", cfg, "--connector", "other", "--input", sample}, 1, `no connector "other" is configured`},
		{[]string{"--config", cfg, "--connector", "example", "--input", sample}, 1, "mapping_failed: mapping: name: no such key: nick"},
		{[]string{"--config", cfg, "--connector", "example", "--input", cfg}, 1, "the sample is not"},
		{[]string{"--config", cfg, "--connector", "example"}, 2, "usage: idplug map"},
	} {
		_, errOut, code := runMap(t, c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, %q; want %d with %q", c.args, code, errOut, c.code, c.want)
		}
	}
}
