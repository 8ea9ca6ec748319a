package walk

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"
)

// problemsOf renders err's problems as "line field: message".
func problemsOf(t *testing.T, err error) []string {
	t.Helper()
	var we *Error
	if !errors.As(err, &we) {
		t.Fatalf("error %T (%v) is not a *walk.Error", err, err)
	}
	var out []string
	for _, p := range we.Problems {
		out = append(out, (strconv.Itoa(p.Line) + " " + p.Field + ": " + p.Message))
	}
	return out
}

func TestPathString(t *testing.T) {
	var root *Path
	p := root.Key("connectors").Item(1).Key("config").Key("scope")
	if got := p.String(); got != "connectors[1].config.scope" {
		t.Errorf("path = %q", got)
	}
	if got := root.String(); got != "" {
		t.Errorf("root = %q", got)
	}
	long := root.Key(strings.Repeat("é", 40)).String() // 80 bytes
	if !strings.HasSuffix(long, "...") || len(long) > maxKeyInPath+3 {
		t.Errorf("long key rendered as %q", long)
	}
}
func TestUnknownKeySuggests(t *testing.T) {
	allowed := []string{"listen", "logoDark"}
	for key, want := range map[string]string{
		"lisen":     "unknown key; did you mean listen?",
		"logo_dark": "unknown key; did you mean logoDark?",
		"zzz":       "unknown key (known keys: listen, logoDark)",
	} {
		if got := unknownKey(key, allowed); got != want {
			t.Errorf("unknownKey(%q) = %q, want %q", key, got, want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for name, tt := range map[string]struct {
		doc, want string
	}{
		"syntax":        {"a: 1\nb: [1, 2\n", "YAML syntax"},
		"two docs":      {"a: 1\n---\nb: 2\n", "a second YAML document starts here"},
		"too deep":      {strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1) + "\n", "nested more than"},
		"unknown alias": {"a: 1\nb: *nope\n", "a value starting with \"*\""},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(tt.doc))
			got := problemsOf(t, err)
			if len(got) != 1 || !strings.Contains(got[0], tt.want) {
				t.Errorf("problems = %q, want one containing %q", got, tt.want)
			}
		})
	}
	if root, err := Parse(nil); root != nil || err != nil {
		t.Errorf("empty document: %v, %v", root, err)
	}
}

func TestKnownMergesAndChecks(t *testing.T) {
	root, err := Parse([]byte("base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\n  y: 4\n  wat: 5\n"))
	if err != nil {
		t.Fatal(err)
	}
	var ps Problems
	d := NewDecoder(&ps)
	top := d.Known(root, nil, []string{"base", "m"})
	e, ok, at := top.At("m")
	if !ok {
		t.Fatal("m missing")
	}
	m := d.Known(e.Value, at.Path, []string{"x", "y"})
	if x, set, _ := m.Text("x"); !set || x != "1" {
		t.Errorf("merged x = %q, %v", x, set)
	}
	if y, set, _ := m.Text("y"); !set || y != "3" {
		t.Errorf("y = %q, %v; the key written first in the mapping wins over the merged one", y, set)
	}
	got := problemsOf(t, ps.Err())
	want := []string{"5 m.y: is set twice (first on line 4)", "6 m.wat: unknown key (known keys: x, y)"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n got %q\nwant %q", got, want)
	}
}

func TestAliasToItselfIsAProblem(t *testing.T) {
	root, err := Parse([]byte("a: &a [1, *a]\n"))
	if err != nil {
		t.Fatal(err)
	}
	var ps Problems
	d := NewDecoder(&ps)
	var buf bytes.Buffer
	d.ToJSON(&buf, root, nil)
	if err := ps.Err(); err == nil || !strings.Contains(err.Error(), "refers to itself through an alias") {
		t.Errorf("err = %v", err)
	}
}

func TestToJSONKeepsNumbersAndOrder(t *testing.T) {
	root, err := Parse([]byte("z: 123456789012345678901234567890\na: 1.50\nm: {k: [true, null, \"<&>\"]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	var ps Problems
	var buf bytes.Buffer
	NewDecoder(&ps).ToJSON(&buf, root, nil)
	if err := ps.Err(); err != nil {
		t.Fatal(err)
	}
	want := `{"z":123456789012345678901234567890,"a":1.50,"m":{"k":[true,null,"<&>"]}}`
	if buf.String() != want {
		t.Errorf("json = %s\nwant   %s", buf.String(), want)
	}
}
