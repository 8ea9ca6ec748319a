package sdk

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// go-plugin's host side parses @timestamp with exactly six fractional digits and
// drops a line it cannot parse to debug: every line must carry that layout,
// whatever its time (slog's own format trims trailing zeros), and a level name
// the host knows.
func TestPluginLogLinesParseOnTheHostSide(t *testing.T) {
	var buf bytes.Buffer
	log := newPluginLogger(&buf, slog.LevelDebug)
	log.Debug("d")
	log.Info("i", "k", "v")
	log.Warn("w")
	log.Error("e")
	log.Log(t.Context(), slog.LevelInfo+2, "between")
	log.Log(t.Context(), slog.LevelError+4, "above")
	want := []string{"debug", "info", "warn", "error", "info", "error"}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != len(want) {
		t.Fatalf("got %d lines:\n%s", len(lines), buf.String())
	}
	for i, line := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %d: %v: %s", i, err, line)
		}
		ts, _ := m["@timestamp"].(string)
		if _, err := time.Parse("2006-01-02T15:04:05.000000Z07:00", ts); err != nil {
			t.Errorf("line %d: @timestamp %q does not parse as go-plugin parses it: %v", i, ts, err)
		}
		if m["@level"] != want[i] {
			t.Errorf("line %d: @level = %v, want %s", i, m["@level"], want[i])
		}
	}
	if !strings.Contains(lines[1], `"k":"v"`) {
		t.Errorf("attributes lost: %s", lines[1])
	}
}

func TestWireTimeFormatKeepsSixDigits(t *testing.T) {
	for _, ts := range []time.Time{
		time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 120000000, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.FixedZone("x", 3600)),
	} {
		s := ts.Format(wireTimeFormat)
		if _, err := time.Parse("2006-01-02T15:04:05.000000Z07:00", s); err != nil {
			t.Errorf("%v -> %q: %v", ts, s, err)
		}
	}
}
