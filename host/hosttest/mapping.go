package hosttest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/idplug/idplug/host/config"
	"github.com/idplug/idplug/host/mapping"
)

// MappingExamples checks a connector's documented mapping examples, each a
// folder of dir: mapping.yaml (a connector's mapping: block, as an operator
// writes it in idplug.yaml), sample.json (the connector's profile and raw data,
// as idplug map reads it) and output.json (what idplug map prints), or
// refused.txt (the reason the example's allow rule gives). Each runs as a
// subtest, through the same configuration parser and mapping as idplug.
// idplug's own cookbook (docs/mapping) is checked this way too.
func MappingExamples(t *testing.T, dir string) {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(dir, "*", "mapping.yaml"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no mapping examples (NAME/mapping.yaml) in %s", dir)
	}
	for _, file := range dirs {
		ex := filepath.Dir(file)
		t.Run(filepath.Base(ex), func(t *testing.T) {
			m := CompileMappingExample(t, file)
			f, err := os.Open(filepath.Join(ex, "sample.json"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			u, err := mapping.ReadSample(f)
			if err != nil {
				t.Fatalf("sample.json: %v", err)
			}
			res, err := m.Apply(t.Context(), u)
			if reason, rerr := os.ReadFile(filepath.Join(ex, "refused.txt")); rerr == nil {
				if err == nil || !strings.Contains(err.Error(), strings.TrimSpace(string(reason))) {
					t.Fatalf("got %v; want the refusal %q", err, strings.TrimSpace(string(reason)))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join(ex, "output.json"))
			if err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(res.Output())
			var g, w any
			if err := json.Unmarshal(want, &w); err != nil {
				t.Fatalf("output.json: %v", err)
			}
			_ = json.Unmarshal(got, &g)
			if !reflect.DeepEqual(g, w) {
				t.Fatalf("the mapping gives\n%s\nwant (output.json)\n%s", got, bytes.TrimSpace(want))
			}
		})
	}
}

// compileExample parses mapping.yaml as part of an idplug.yaml.
// CompileMappingExample reads an example's mapping.yaml through the
// configuration parser, as idplug reads a connector's mapping: block.
func CompileMappingExample(t *testing.T, file string) *mapping.Mapping {
	t.Helper()
	block, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("plugin_dir: /\nsession_keys: [\"0123456789abcdef0123456789abcdef\"]\nconnectors:\n  - id: example\n    plugin: example\n")
	for line := range strings.SplitSeq(strings.TrimRight(string(block), "\n"), "\n") {
		b.WriteString("    " + line + "\n")
	}
	cfg, err := config.Parse([]byte(b.String()), func(string) (string, bool) { return "", false }, "/")
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if cfg.Instances[0].Mapping == nil {
		t.Fatalf("%s: no mapping: block", file)
	}
	return cfg.Instances[0].Mapping
}
