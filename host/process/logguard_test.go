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
