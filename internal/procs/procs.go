// Package procs runs a process on one P (GOMAXPROCS=1) while it serves at most one
// call at a time, and on the runtime's default number of Ps as soon as calls
// overlap. idplug serve counts its HTTP requests with it, and a plugin served with
// sdk.WithAdaptiveProcs(true) (every bundled one) its gRPC calls.
//
// With one call in flight, a process's goroutines (the connection's reader, the
// handler, net/http's client loops, the writer) hand the call to one another in
// turn: there is no parallel work, and every extra P only adds threads that wake
// up, spin and sleep again. On a machine shared with the host, the provider's
// clients and other plugins, those wake-ups are a large share of a plugin's CPU per
// sign-in (the figures are in BENCHMARKS.md, "Runtime settings").
//
// Going up is immediate; going down waits for a whole window without overlap, so a
// busy process does not flap. Changing GOMAXPROCS stops the world for some
// microseconds, at most once per window. Going back to the default uses
// runtime.SetDefaultGOMAXPROCS, which also turns the runtime's own updates (a
// changed CPU quota or affinity) back on. Work that is not a counted call (idplug
// starting the plugins of a rescanned folder while no request is in flight) runs
// on the one P too: slower on a big machine, and rare.
package procs

import (
	"context"
	"os"
	"runtime"
	"sync/atomic"
	"time"
)

// Window is how long calls must stay one at a time before the process goes down
// to one P.
const Window = 100 * time.Millisecond

// Tuner counts the calls in flight and sets GOMAXPROCS from them. A nil *Tuner
// counts nothing and sets nothing.
type Tuner struct {
	setProcs func(n int) // n == 0: the runtime's default
	inFlight atomic.Int32
	peak     atomic.Int32 // the most calls in flight since the last check
	wide     atomic.Bool  // running on the default Ps
	up       chan struct{}
}

func newTuner(setProcs func(int)) *Tuner {
	t := &Tuner{setProcs: setProcs, up: make(chan struct{}, 1)}
	t.wide.Store(true)
	return t
}

// Start tunes this process's GOMAXPROCS until ctx ends, unless there is a single
// P anyway or GOMAXPROCS is set in the environment (whoever set it keeps the last
// word); then it returns nil.
func Start(ctx context.Context) *Tuner {
	if runtime.GOMAXPROCS(0) <= 1 || os.Getenv("GOMAXPROCS") != "" {
		return nil
	}
	t := newTuner(func(n int) {
		if n == 0 {
			runtime.SetDefaultGOMAXPROCS()
		} else {
			runtime.GOMAXPROCS(n)
		}
	})
	go t.run(ctx, Window)
	return t
}

// Enter counts a call in, and asks for more Ps when calls overlap. Every Enter
// needs its Leave.
func (t *Tuner) Enter() {
	if t == nil {
		return
	}
	n := t.inFlight.Add(1)
	for {
		p := t.peak.Load()
		if n <= p || t.peak.CompareAndSwap(p, n) {
			break
		}
	}
	if n > 1 && !t.wide.Load() {
		select {
		case t.up <- struct{}{}:
		default: // already asked
		}
	}
}

// Leave counts a call out.
func (t *Tuner) Leave() {
	if t != nil {
		t.inFlight.Add(-1)
	}
}

// run adjusts the Ps until ctx ends. It checks every window while wide, and
// waits without a timer while narrow, so an idle process does not wake up.
func (t *Tuner) run(ctx context.Context, window time.Duration) {
	tick := time.NewTicker(window)
	defer tick.Stop()
	for {
		var ticks <-chan time.Time
		if t.wide.Load() {
			ticks = tick.C
		}
		select {
		case <-ctx.Done():
			return
		case <-t.up:
			if t.widen() {
				tick.Reset(window)
			}
		case <-ticks:
			if t.check() {
				tick.Stop()
			}
		}
	}
}

// widen goes back to the default Ps, and reports whether it did.
func (t *Tuner) widen() bool {
	if t.wide.Load() {
		return false
	}
	t.setProcs(0)
	t.wide.Store(true)
	return true
}

// check ends a window: without overlap in it, it goes down to one P, and reports
// whether it did.
func (t *Tuner) check() bool {
	peak := t.peak.Swap(t.inFlight.Load())
	if peak > 1 || !t.wide.Load() {
		return false
	}
	t.wide.Store(false)
	t.setProcs(1)
	// A call that overlapped between the Swap and now asked for nothing, as wide
	// was still true: look again.
	if t.inFlight.Load() > 1 {
		t.widen()
		return false
	}
	return true
}
