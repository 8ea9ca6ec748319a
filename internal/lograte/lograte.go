// Package lograte bounds a repeated warning to a number of log lines a second,
// and counts the ones left out, so that a flood (a plugin refused at every
// connection, a database down for every request) neither buries the log nor
// hides how often it happened.
package lograte

import (
	"sync"
	"time"
)

// Window lets PerSecond lines through in each second, counted from the first
// line of the second. The zero value lets none through; it is safe for
// concurrent use.
type Window struct {
	PerSecond int

	mu      sync.Mutex
	start   time.Time
	logged  int
	skipped int
}

// Allow says whether a line at now is written and, when it is, how many were
// left out since the last one that was.
func (w *Window) Allow(now time.Time) (skipped int, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if now.Sub(w.start) >= time.Second {
		w.start, w.logged = now, 0
	}
	if w.logged >= w.PerSecond {
		w.skipped++
		return 0, false
	}
	w.logged++
	skipped, w.skipped = w.skipped, 0
	return skipped, true
}
