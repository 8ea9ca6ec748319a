// Package gcpercent sets a process's garbage collector target (GOGC) unless its
// environment already does.
//
// idplug's processes (the host, and the bundled plugins through
// sdk.WithGCHeadroom) keep a few MiB of live memory and allocate for every call. At
// Go's default target of 100 such a heap is collected whenever it reaches 4 MiB,
// dozens of times a second under load, and the collections are a large share of a
// plugin's CPU per sign-in. KeepHeadroom lets the heap grow by a fixed amount over
// what is live instead, as long as that is more than Go's default would allow; a
// process with a large live heap (a plugin with 10,000 instances) keeps Go's
// default (BENCHMARKS.md, "Runtime settings"). GOGC, when set, keeps the last word.
package gcpercent

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// minHeap is the Go runtime's minimum heap goal at GOGC=100; it scales with the
// percent.
const minHeap = 4 << 20

// Set applies percent (see debug.SetGCPercent) unless GOGC is set to something
// (the runtime reads an empty GOGC as unset too), and reports whether it did.
func Set(percent int) bool {
	if envSet() {
		return false
	}
	debug.SetGCPercent(percent)
	return true
}

// KeepHeadroom lets the heap grow by about headroom bytes over the live heap
// before a collection, and never by less than Go's default (the live heap itself).
// It retunes the percent after every collection, as the live heap changes. It
// does nothing, and reports false, when GOGC is set.
func KeepHeadroom(headroom uint64) bool {
	if envSet() {
		return false
	}
	t := &tuner{headroom: headroom}
	t.apply()
	return true
}

func envSet() bool { return os.Getenv("GOGC") != "" }

// PercentFor is the GC percent that gives a heap of live bytes about headroom
// bytes to grow: headroom/live, but at least Go's default of 100, and at most
// what keeps the runtime's minimum heap goal (4 MiB × percent/100) within
// headroom, so that a tiny heap does not get a huge goal.
func PercentFor(live, headroom uint64) int {
	most := int(headroom * 100 / minHeap)
	if most < 100 {
		return 100
	}
	if live == 0 {
		return most
	}
	p := headroom * 100 / live
	switch {
	case p < 100:
		return 100
	case p > uint64(most):
		return most
	}
	return int(p)
}

// tuner recomputes the percent once per collection: a sentinel object, dropped as
// soon as it is made, is freed by the next collection, and its cleanup retunes and
// makes the next one.
type tuner struct {
	headroom uint64
	// applied, when set (by tests), gets every percent applied.
	applied func(int)
	// mu and stopped end the chain (for tests): after stop, no apply changes
	// anything.
	mu      sync.Mutex
	stopped bool
}

func (t *tuner) stop() {
	t.mu.Lock()
	t.stopped = true
	t.mu.Unlock()
}

type sentinel struct{ _ [64]byte } // not a tiny allocation, so it is freed on its own

func (t *tuner) apply() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	var live uint64
	if s[0].Value.Kind() == metrics.KindUint64 {
		live = s[0].Value.Uint64()
	}
	p := PercentFor(live, t.headroom)
	debug.SetGCPercent(p)
	if t.applied != nil {
		t.applied(p)
	}
	runtime.AddCleanup(&sentinel{}, func(t *tuner) { t.apply() }, t)
}
