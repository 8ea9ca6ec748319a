package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestExpand(t *testing.T) {
	env := envOf(map[string]string{"A": "alpha", "EMPTY": "", "NESTED": "${A}", "DOLLAR": "$$"})
	tests := []struct {
		in, want string
		errs     []string
	}{
		{in: "plain", want: "plain"},
		{in: "${A}", want: "alpha"},
		{in: "x-${A}-y", want: "x-alpha-y"},
		{in: "${A}${A}", want: "alphaalpha"},
		{in: "$$", want: "$"},
		{in: "$${A}", want: "${A}"},
		{in: "$$$${A}", want: "$${A}"},
		{in: "$$${A}", want: "$alpha"},
		{in: "cost: $5", want: "cost: $5"},
		{in: "$", want: "$"},
		{in: "a$", want: "a$"},
		{in: "$HOME", want: "$HOME"},
		{in: "${EMPTY}", want: ""},
		{in: "${NESTED}", want: "${A}"},
		{in: "${DOLLAR}", want: "$$"},
		{in: "${MISSING:-fallback}", want: "fallback"},
		{in: "${EMPTY:-fallback}", want: "fallback"},
		{in: "${A:-fallback}", want: "alpha"},
		{in: "${MISSING:-}", want: ""},
		{in: "${MISSING:-a:-b}", want: "a:-b"},
		{in: "${MISSING}", want: "", errs: []string{"environment variable MISSING is not set"}},
		{in: "${X1} ${X2}", want: " ", errs: []string{"environment variable X1 is not set", "environment variable X2 is not set"}},
		{in: "${}", want: "", errs: []string{`"${}" is not a valid reference: use ${NAME}, ${NAME:-default} or ${file:PATH}, and $$ for a literal $`}},
		{in: "${A B}", want: "", errs: []string{`"${A B}" is not a valid reference: use ${NAME}, ${NAME:-default} or ${file:PATH}, and $$ for a literal $`}},
		{in: "${A", want: "${A", errs: []string{`"${" has no closing "}" (write $$ for a literal $)`}},
		// A default may hold references, replaced only when it is used: written
		// as text, ${KEY:-${OTHER}} had made a session key of "${OTHER}".
		{in: "${MISSING:-${A}}", want: "alpha"},
		{in: "${MISSING:-${EMPTY:-${A}}}", want: "alpha"},
		{in: "${MISSING:-x-${A}-y}", want: "x-alpha-y"},
		{in: "${MISSING:-$${A}}", want: "${A}"},
		{in: "${MISSING:-$${A}x}", want: "${A}x"},
		{in: "${MISSING:-pa$$word}", want: "pa$$word"}, // no reference: as written, as it always was
		{in: "${MISSING:-pa$$word${EMPTY}}", want: "pa$word"},
		{in: `${MISSING:-{"a":1}}`, want: `{"a":1}`},
		{in: "${MISSING:-a}b}", want: "ab}"},
		{in: "${A:-${MISSING}}", want: "alpha"},
		{in: "${MISSING:-${MISSING2}}", want: "", errs: []string{"environment variable MISSING2 is not set"}},
		{in: "${MISSING:-${A}", want: "", errs: []string{`"${" has no closing "}" (write $$ for a literal $)`}},
		{in: "${M:-${M:-${M:-${M:-${M:-x}}}}}", want: "x"},
		{in: "${M:-${M:-${M:-${M:-${M:-${M:-x}}}}}}", want: "", errs: []string{"the default of ${M:-...} nests references more than 4 deep"}},
		{in: "${file:${A}}", want: "", errs: []string{"a ${file:PATH} reference takes a path as written, without references in it"}},
	}
	for _, tt := range tests {
		got, errs, _ := expand(tt.in, lookup{env: env}, MaxInterpolatedSize)
		if len(tt.errs) == 0 && got != tt.want || !slices.Equal(errs, tt.errs) {
			t.Errorf("expand(%q) = %q, %q; want %q, %q", tt.in, got, errs, tt.want, tt.errs)
		}
	}
	// A file in a default: read when the default is used, and only then.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "key"), []byte("from-the-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{"${MISSING:-${file:key}}": "from-the-file", "${A:-${file:absent}}": "alpha"} {
		if got, errs, _ := expand(in, lookup{env: env, baseDir: dir, files: &secretFiles{}}, MaxInterpolatedSize); got != want || len(errs) > 0 {
			t.Errorf("expand(%q) = %q, %q; want %q", in, got, errs, want)
		}
	}
}

// A value from the environment is data: YAML syntax in it must not change
// the structure of the document.
func TestInterpolatedValuesCannotChangeStructure(t *testing.T) {
	nasty := "x\nlog_level: trace\n- [a, {b: c}] # ' \" & *anchor !tag %"
	data := withMinimal(
		"public_url: ${URL}",
		"connectors:",
		"  - id: acme",
		"    plugin: oauth2",
		"    config:",
		"      plain: ${NASTY}",
		`      double: "${NASTY}"`,
		"      single: '${NASTY}'",
		"      block: |",
		"        ${NASTY}",
		"      key: pre-${COLON}-post",
	)
	cfg := mustParse(t, data, map[string]string{"NASTY": nasty, "COLON": "a: b", "URL": "http://127.0.0.1:8080/"})
	if cfg.LogLevel != "info" {
		t.Errorf("LogLevel = %q: an environment value changed the document", cfg.LogLevel)
	}
	if cfg.PublicURL != "http://127.0.0.1:8080" {
		t.Errorf("PublicURL = %q", cfg.PublicURL)
	}
	var got map[string]string
	if err := json.Unmarshal(cfg.Instances[0].Config, &got); err != nil {
		t.Fatalf("config %s: %v", cfg.Instances[0].Config, err)
	}
	want := map[string]string{"plain": nasty, "double": nasty, "single": nasty, "block": nasty + "\n", "key": "pre-a: b-post"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("config.%s = %q, want %q", k, got[k], v)
		}
	}
}

func TestInterpolationTyping(t *testing.T) {
	data := withMinimal(
		"call_timeout: ${TIMEOUT}",
		"connectors:",
		"  - id: ${ID}",
		"    plugin: oauth2",
		"    name: {en: '${NAME}'}",
		"    config:",
		"      port: ${PORT}",
		`      portText: "${PORT}"`,
		"      enabled: ${TRUE}",
		"      nothing: ${EMPTY}",
		"      cost: $$5",
		"      escaped: $${PORT}",
		"      fallback: ${UNSET:-42}",
		"      tagged: !!str ${PORT}",
	)
	env := map[string]string{"TIMEOUT": "45s", "ID": "acme", "NAME": "Acme & Co", "PORT": "8443", "TRUE": "true", "EMPTY": ""}
	cfg := mustParse(t, data, env)
	if cfg.CallTimeout != 45*time.Second {
		t.Errorf("CallTimeout = %v", cfg.CallTimeout)
	}
	c := cfg.Instances[0]
	if c.ID != "acme" || c.Name["en"] != "Acme & Co" {
		t.Errorf("connector = %+v", c)
	}
	want := `{"port":8443,"portText":"8443","enabled":true,"nothing":null,"cost":"$5","escaped":"${PORT}","fallback":42,"tagged":"8443"}`
	if string(c.Config) != want {
		t.Errorf("config =\n%s\nwant\n%s", c.Config, want)
	}
}

// TestReferencesAreBoundedInAll: a reference of a few bytes brings up to 64
// KiB (${file:...}) or a whole environment variable, so a file of short
// references could build gigabytes; the values holding references may come to
// MaxInterpolatedSize in all. A file that passes it is refused with one
// problem naming the value that does, whether one value passes it alone or
// many together, and the work stops there.
func TestReferencesAreBoundedInAll(t *testing.T) {
	dir := t.TempDir()
	secret := strings.Repeat("s", MaxSecretFileSize)
	if err := os.WriteFile(filepath.Join(dir, "secret"), []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	env := envOf(map[string]string{"BIG": secret})
	refs := strings.Repeat("${BIG}${file:secret}", 5) // 640 KiB once replaced
	// values returns n values of settings holding v, from line 7.
	values := func(n int, v string) []string {
		lines := []string{"connectors:", "  - id: a", "    plugin: p", "    config:"}
		for i := range n {
			lines = append(lines, fmt.Sprintf("      s%d: %s", i, v))
		}
		return lines
	}
	tests := []struct {
		name string
		doc  string
		want string // "line field"
	}{
		// 6 values of 640 KiB hold 3.75 MiB; the 7th passes 4 MiB.
		{"many values", withMinimal(values(10, refs)...), "13 connectors[0].config.s6"},
		// 64 MiB once replaced, were it built.
		{"one value", withMinimal(values(1, strings.Repeat(refs, 100))...), "7 connectors[0].config.s0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			cfg, err := Parse([]byte(tt.doc), env, dir)
			runtime.ReadMemStats(&after)
			if err == nil {
				t.Fatalf("accepted: %d bytes of settings", len(cfg.Instances[0].Config))
			}
			ce, ok := errors.AsType[*Error](err)
			if !ok || len(ce.Problems) != 1 {
				t.Fatalf("want one problem, got %v", err)
			}
			p := ce.Problems[0]
			if got := fmt.Sprintf("%d %s", p.Line, p.Field); got != tt.want || !strings.Contains(p.Message, "more than 4 MiB in all") {
				t.Errorf("problem: %s: %s; want %s: ...more than 4 MiB in all...", got, p.Message, tt.want)
			}
			// What is built is bounded by the limit, not by the references:
			// a few times it (a growing value, each file read), where the
			// one value alone would take 64 MiB and its growth twice that.
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16*MaxInterpolatedSize {
				t.Errorf("%d MiB allocated", alloc>>20)
			}
		})
	}
}
