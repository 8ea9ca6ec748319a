package server

import (
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// storeWarnings logs the store failures that answer store_unavailable, at most
// one line a second with a count of the ones left out: every request of an
// outage fails, and a line each would bury the log.
type storeWarnings struct {
	mu      sync.Mutex
	last    time.Time
	skipped int
	now     func() time.Time // nil: time.Now
}

// warn logs msg with the failure err, unless a line was logged within the
// last second; it is then counted into the next line.
func (w *storeWarnings) warn(log hclog.Logger, msg string, err error) {
	w.mu.Lock()
	now := time.Now()
	if w.now != nil {
		now = w.now()
	}
	if now.Sub(w.last) < time.Second {
		w.skipped++
		w.mu.Unlock()
		return
	}
	skipped := w.skipped
	w.last, w.skipped = now, 0
	w.mu.Unlock()
	if skipped > 0 {
		log.Warn(msg, "error", err.Error(), "more_since_last_line", skipped)
		return
	}
	log.Warn(msg, "error", err.Error())
}
