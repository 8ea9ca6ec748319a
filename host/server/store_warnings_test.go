package server

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// An outage fails every request: the log gets a line a second, each saying
// how many failures it stands for, not a line a request.
func TestStoreWarningsAreALineASecond(t *testing.T) {
	var out bytes.Buffer
	log := hclog.New(&hclog.LoggerOptions{Output: &out, JSONFormat: true})
	now := time.Unix(1_800_000_000, 0)
	w := newStoreWarnings()
	w.now = func() time.Time { return now }
	err := errors.New("store: the database cannot be reached: get_tokens took longer than 2s")
	for range 50 {
		w.warn(log, "state store unavailable", err)
	}
	now = now.Add(1100 * time.Millisecond)
	w.warn(log, "state store unavailable", err)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines for 51 failures in 1.1s, want 2:\n%s", len(lines), out.String())
	}
	if !strings.Contains(lines[0], "get_tokens took longer than 2s") || strings.Contains(lines[0], "more_since_last_line") {
		t.Errorf("first line: %s", lines[0])
	}
	if !strings.Contains(lines[1], `"more_since_last_line":49`) {
		t.Errorf("second line does not count the 49 left out: %s", lines[1])
	}
}
