package printable

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestLineEscapesWhatATerminalActsOn(t *testing.T) {
	for in, want := range map[string]string{
		"plain text, é, 日本語, 🙂":                 "plain text, é, 日本語, 🙂",
		"two\nlines\r\n":                        `two\nlines\r\n`,
		"tab\there":                             `tab\there`,
		"\x1b]52;c;cHduZWQ=\x07\x1b[2J":         `\x1b]52;c;cHduZWQ=\a\x1b[2J`,
		"nul\x00 del\x7f":                       `nul\x00 del\x7f`,
		"c1 csi \u009b31m nel \u0085":           `c1 csi \u009b31m nel \u0085`,
		"sep\u2028par\u2029":                    `sep\u2028par\u2029`,
		"bidi \u202eevil\u202c \u2066x\u2069":   `bidi \u202eevil\u202c \u2066x\u2069`,
		"bad \xff utf-8":                        "bad \uFFFD utf-8",
		`a backslash \n stays as it is`:         `a backslash \n stays as it is`,
		"zero width joiner 👩\u200d💻 nbsp\u00a0": "zero width joiner 👩\u200d💻 nbsp\u00a0",
	} {
		if got := Line(in); got != want {
			t.Errorf("Line(%q) = %q, want %q", in, got, want)
		}
		if Clean(in) != (in == want) {
			t.Errorf("Clean(%q) = %v", in, Clean(in))
		}
	}
}

func TestBlockKeepsLinesAndTabs(t *testing.T) {
	in := "# Title\n\n\tcode\r\n\x1b[2J\u009b\n"
	if got, want := Block(in), "# Title\n\n\tcode\\r\n\\x1b[2J\\u009b\n"; got != want {
		t.Errorf("Block(%q) = %q, want %q", in, got, want)
	}
	for _, r := range Block(in) {
		if r < 0x20 && r != '\n' && r != '\t' {
			t.Errorf("Block left %q", r)
		}
	}
	if s := strings.Repeat("ok\n", 10); Block(s) != s {
		t.Error("Block changed clean text")
	}
}

// JSON escapes what encoding/json leaves raw (C1, DEL, the bidirectional
// controls), and means the same JSON.
func TestJSONEscapesWhatEncodingJSONLeaves(t *testing.T) {
	in := map[string]string{"k": "a\u009b2J\u202eb\x7fc\x1bd", "plain": "é 日本"}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	out := JSON(b)
	for _, r := range string(out) {
		if r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u202e' {
			t.Fatalf("%q left in %s", r, out)
		}
	}
	var back map[string]string
	if err := json.Unmarshal(out, &back); err != nil || back["k"] != in["k"] || back["plain"] != in["plain"] {
		t.Errorf("%s reads back as %q (%v)", out, back, err)
	}
	if plain := []byte(`{"a":"b"}`); &JSON(plain)[0] != &plain[0] {
		t.Error("JSON copied a text with nothing to escape")
	}
}
