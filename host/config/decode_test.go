package config

import (
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/idplug/idplug/host/config/internal/walk"
)

func TestConnectorsShareConfigThroughAnchors(t *testing.T) {
	cfg := mustParse(t, withMinimal(
		"connectors:",
		"  - &acme",
		"    id: acme",
		"    plugin: oauth2",
		"    config: {clientId: one}",
		"  - <<: *acme",
		"    id: acme-eu",
		"    target: acme-eu",
	), nil)
	if len(cfg.Instances) != 2 {
		t.Fatalf("connectors = %+v", cfg.Instances)
	}
	c := cfg.Instances[1]
	if c.ID != "acme-eu" || c.Plugin != "oauth2" || string(c.Config) != `{"clientId":"one"}` {
		t.Errorf("merged connector = %+v", c)
	}
}

// Nested aliases must not expand without bound.
// TestAliasExpansionIsBounded: a "billion laughs" file, each level an alias
// list of ten of the level below, is refused once MaxNodes values are
// visited. The work is measured in allocations, which do not depend on the
// machine's speed: twenty levels (10^20 values once expanded) cost no more
// than ten (10^10), and both stay proportional to MaxNodes, not to the
// expansion.
func TestAliasExpansionIsBounded(t *testing.T) {
	laughs := func(levels int) string {
		lines := []string{"connectors:", "  - id: acme", "    plugin: oauth2", "    config:", "      a0: &a0 [x, x, x, x, x, x, x, x, x, x]"}
		for i := 1; i < levels; i++ {
			prev := fmt.Sprintf("*a%d", i-1)
			lines = append(lines, fmt.Sprintf("      a%d: &a%d [%s]", i, i, strings.Repeat(prev+", ", 9)+prev))
		}
		return withMinimal(lines...)
	}
	allocs := map[int]float64{}
	for _, levels := range []int{10, 20} {
		doc := laughs(levels)
		allocs[levels] = testing.AllocsPerRun(1, func() {
			got := problemsOf(t, doc, nil)
			if len(got) != 1 || !strings.Contains(got[0], "too many values once aliases are expanded") {
				t.Errorf("%d levels: problems = %q", levels, got)
			}
		})
	}
	t.Logf("allocations: %v", allocs)
	if allocs[20] > 1.1*allocs[10] {
		t.Errorf("allocations grow with the expansion: %v at 10 levels, %v at 20", allocs[10], allocs[20])
	}
	if limit := 20.0 * walk.MaxNodes; allocs[10] > limit {
		t.Errorf("%v allocations, more than %v for %d values", allocs[10], limit, walk.MaxNodes)
	}
}

func TestFileTooLarge(t *testing.T) {
	data := make([]byte, MaxFileSize+1)
	for i := range data {
		data[i] = '#'
	}
	_, err := Parse(data, nil, "/")
	var ce *Error
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "larger than the limit") {
		t.Errorf("err = %v", err)
	}
}

// TestAliasesCountEveryValueTheyRepeat: an alias costs every entry, item and
// byte of text under its anchor each time it is expanded, whichever part of the
// decoder walks it. A mapping of 2,000 entries repeated by n aliases once cost
// one unit per alias, so that a file under the size limit could keep billions
// of entries. Each file here passes the limits once expanded, and is refused
// with one problem at an alias (what would follow is left out: values then
// read as missing). Doubling the aliases must not add work: the decoder stops
// at the limit. The files are small, so that even without the limits the test
// stays well under a gigabyte.
func TestAliasesCountEveryValueTheyRepeat(t *testing.T) {
	// repeat returns n strings made by line(i).
	repeat := func(n int, line func(int) string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = line(i)
		}
		return out
	}
	// connectors returns n+1 connectors, the first with key: first, the
	// others with key: rest.
	connectors := func(n int, key, first, rest string) string {
		return withMinimal(append([]string{"connectors:"}, repeat(n+1, func(i int) string {
			v := rest
			if i == 0 {
				v = first
			}
			return fmt.Sprintf("  - {id: c%d, plugin: p, %s: %s}", i, key, v)
		})...)...)
	}
	entries := "{" + strings.Join(repeat(2000, func(i int) string { return fmt.Sprintf("k%d: v", i) }), ", ") + "}"
	aliases := func(n int, alias string) string {
		return strings.Join(repeat(n, func(int) string { return alias }), ", ")
	}
	long := strings.Repeat("x", 64<<10) // 257 of them pass walk.MaxText
	values, text := "too many values once aliases are expanded", "too much text once aliases are expanded"
	tests := []struct {
		name string
		doc  func(n int) string // a file with n aliases
		n    int                // enough to pass the limit
		// once leaves out the file with twice the aliases where it would
		// walk 100,000 entries again, through code the name case covers.
		once  bool
		field string // a regular expression
		want  string
	}{
		{
			name: "mapping read by the schema (name)",
			doc:  func(n int) string { return connectors(n, "name", "&m "+entries, "*m") },
			n:    60, field: `connectors\[\d+\]\.name`, want: values,
		},
		{
			name: "mapping merged",
			doc:  func(n int) string { return connectors(n, "name", "&m "+entries, "{<<: *m}") },
			n:    60, once: true, field: `connectors\[\d+\]\.name`, want: values,
		},
		{
			name: "mapping in a plugin's settings",
			doc:  func(n int) string { return connectors(n, "config", "{m: &m "+entries+"}", "{m: *m}") },
			n:    60, once: true, field: `connectors\[\d+\]\.config\.m`, want: values,
		},
		{
			name: "list of each plugin (sandbox.read)",
			doc: func(n int) string {
				return withMinimal(append([]string{"sandbox:", "  read:", "    p0: &l [" + aliases(2000, "/a") + "]"},
					repeat(n, func(i int) string { return fmt.Sprintf("    p%d: *l", i+1) })...)...)
			},
			n: 60, field: `sandbox\.read\.p\d+`, want: values,
		},
		{
			name: "text in a list (session_keys)",
			doc: func(n int) string {
				return doc("plugin_dir: ./plugins", "session_keys: [&k "+long+", "+aliases(n, "*k")+"]")
			},
			n: 300, field: `session_keys`, want: text,
		},
		{
			name: "text in a list the schema walks (api_keys)",
			doc:  func(n int) string { return withMinimal("api_keys: [&k " + long + ", " + aliases(n, "*k") + "]") },
			n:    300, field: `api_keys`, want: text,
		},
		{
			name: "text in a plugin's settings",
			doc:  func(n int) string { return connectors(0, "config", "{s: &s "+long+", l: ["+aliases(n, "*s")+"]}", "") },
			n:    300, field: `connectors\[0\]\.config\.l`, want: text,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			allocated := map[int]uint64{}
			ns := []int{tt.n, 2 * tt.n}
			if tt.once {
				ns = ns[:1]
			}
			for _, n := range ns {
				doc := tt.doc(n)
				if len(doc) > MaxFileSize {
					t.Fatalf("the file is %d bytes, over MaxFileSize", len(doc))
				}
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				cfg, err := Parse([]byte(doc), nil, "/etc/idplug")
				runtime.ReadMemStats(&after)
				allocated[n] = after.TotalAlloc - before.TotalAlloc
				if err == nil {
					kept := 0
					for _, in := range cfg.Instances {
						kept += len(in.Name) + len(in.Config)
					}
					t.Fatalf("%d aliases: accepted, %d names and bytes of settings kept, %d MiB allocated",
						n, kept, allocated[n]>>20)
				}
				ce, ok := errors.AsType[*Error](err)
				if !ok || len(ce.Problems) != 1 {
					t.Fatalf("%d aliases: want one problem, got %v", n, err)
				}
				p := ce.Problems[0]
				if !strings.Contains(p.Message, tt.want) || !regexp.MustCompile(`^`+tt.field+`$`).MatchString(p.Field) ||
					p.Line < 1 || !strings.Contains(strings.Split(doc, "\n")[p.Line-1], "*") {
					t.Errorf("%d aliases: problem %q at line %d, field %q; want %q at an alias, field %s",
						n, p.Message, p.Line, p.Field, tt.want, tt.field)
				}
			}
			// The longer file takes a little more to parse, not the expansion.
			if a, b := allocated[tt.n], allocated[2*tt.n]; !tt.once && b > a+a/10+1<<20 {
				t.Errorf("allocation grows with the aliases: %d KiB with %d, %d KiB with %d", a>>10, tt.n, b>>10, 2*tt.n)
			}
		})
	}
}
