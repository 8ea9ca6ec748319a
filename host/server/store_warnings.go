package server

import (
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/idplug/idplug/internal/lograte"
)

// storeWarnings logs the store failures that answer store_unavailable, at most
// one line a second with a count of the ones left out: every request of an
// outage fails, and a line each would bury the log.
type storeWarnings struct {
	lines lograte.Window
	now   func() time.Time // nil: time.Now
}

func newStoreWarnings() *storeWarnings {
	return &storeWarnings{lines: lograte.Window{PerSecond: 1}}
}

// warn logs msg with the failure err, unless a line was logged within the
// last second; it is then counted into the next line.
func (w *storeWarnings) warn(log hclog.Logger, msg string, err error) {
	now := time.Now()
	if w.now != nil {
		now = w.now()
	}
	skipped, ok := w.lines.Allow(now)
	switch {
	case !ok:
	case skipped > 0:
		log.Warn(msg, "error", err.Error(), "more_since_last_line", skipped)
	default:
		log.Warn(msg, "error", err.Error())
	}
}
