package process

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// A plugin's JSON line names fields of its own; those hclog writes for the host
// (@module above all) must stay the host's, or the line passes for idplug.http's
// or another plugin's.
func TestPluginLinesKeepTheHostsFields(t *testing.T) {
	var buf bytes.Buffer
	host := hclog.New(&hclog.LoggerOptions{Name: "idplug", Output: &buf, JSONFormat: true, Level: hclog.Info})
	l := newLogGuard(host.Named("plugin.evil")).Named("idplug-connector-evil")
	// As go-plugin passes a plugin's line: its fields, in the order it read them.
	l.Log(hclog.Warn, strings.Repeat("m", 10_000), "@module", "idplug.http", "@level", "error", "@timestamp", "2020-01-01",
		"@caller", "host.go:1", "ok", "kept", "big", strings.Repeat("é", 5000))
	var line map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(buf.Bytes()), &line); err != nil {
		t.Fatalf("%v: %s", err, buf.String())
	}
	for k, want := range map[string]any{
		"@module": "idplug.plugin.evil.idplug-connector-evil", "@level": "warn",
		"plugin_module": "idplug.http", "plugin_level": "error", "plugin_caller": "host.go:1", "ok": "kept",
	} {
		if line[k] != want {
			t.Errorf("%s = %v, want %v", k, line[k], want)
		}
	}
	if m, _ := line["@message"].(string); len(m) > maxLogText+3 {
		t.Errorf("a message of %d bytes", len(m))
	}
	if b, _ := line["big"].(string); len(b) > maxLogText+3 || !strings.HasPrefix(b, "é") {
		t.Errorf("a value of %d bytes", len(b))
	}
}

// With log_format: text (the default), hclog writes a line's message and its
// keys as they are: a line break in a plugin's (a JSON-escaped "\n" in the
// @message of its stderr line) would start a line of the plugin's choosing that
// reads as idplug's own, and escape sequences would reach the operator's
// terminal (idplug serve logs to stderr, in the foreground). They are escaped.
func TestPluginMessageCannotForgeAHostLine(t *testing.T) {
	var buf bytes.Buffer
	host := hclog.New(&hclog.LoggerOptions{Name: "idplug", Output: &buf, Level: hclog.Info})
	l := newLogGuard(host.Named("plugin.evil")).Named("idplug-connector-evil")
	forged := "2025-01-01T00:00:00.000Z [ERROR] idplug: sandbox disabled: mode off"
	l.Log(hclog.Info, "hello\n"+forged+"\x1b]52;c;cHduZWQ=\x07", "k", "v")
	l.Log(hclog.Info, "by key", "k\r\n"+forged+"\u009b2J", "v")
	l.Log(hclog.Info, "héllo, 世界", "multi", "value\nof lines") // ordinary text stays readable
	out := buf.String()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	for _, line := range lines {
		if strings.HasPrefix(line, "2025-01-01") {
			t.Errorf("the plugin wrote a line of idplug's own:\n%s", out)
		}
	}
	if strings.ContainsAny(out, "\x1b\x07\r\u009b") {
		t.Errorf("the lines carry the plugin's escape sequences: %q", out)
	}
	for _, want := range []string{`hello\n2025-01-01T00:00:00.000Z [ERROR] idplug: sandbox disabled: mode off\x1b]52;c;cHduZWQ=\a: k=v`,
		`by key: k\r\n2025-01-01`, `\u009b2J=v`, "héllo, 世界", "  | value\n  | of lines"} {
		if !strings.Contains(out, want) {
			t.Errorf("the lines do not read %q:\n%s", want, out)
		}
	}
}

// go-plugin hands a plugin's JSON arrays and objects on as []any and
// map[string]any, whose elements hclog's text format writes as they are: a
// plugin's list of strings carried terminal escapes and bidirectional overrides
// to the operator's terminal, and past the cut of long values.
func TestPluginListsAndObjectsAreEscapedAndCut(t *testing.T) {
	var buf bytes.Buffer
	host := hclog.New(&hclog.LoggerOptions{Name: "idplug", Output: &buf, Level: hclog.Info})
	l := newLogGuard(host.Named("plugin.evil")).Named("idplug-connector-evil")
	l.Log(hclog.Error, "provider said no",
		"detail", []any{"\x1b]0;owned-title\x07\x1b[2J\x1b[H", "\u009b31mred", "\u202eevil", strings.Repeat("x", 10_000)},
		"nested", map[string]any{"k\x1b[31m": []any{"\x1b[2J"}},
		"lines", "first\n\x1b[2Jsecond\u202e",
		"n", 3.5, "ok", true, "none", nil)
	out := buf.String()
	if strings.ContainsAny(out, "\x1b\x07\u009b\u202e") {
		t.Errorf("the line carries the plugin's control characters: %q", out)
	}
	if len(out) > 3*maxLogText {
		t.Errorf("a line of %d bytes", len(out))
	}
	for _, want := range []string{"n=3.5", "ok=true", "owned-title", "evil", "second"} {
		if !strings.Contains(out, want) {
			t.Errorf("the line does not read %q:\n%s", want, out)
		}
	}
}
