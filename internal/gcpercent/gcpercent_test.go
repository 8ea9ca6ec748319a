package gcpercent

import (
	"os"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestSetUnlessGOGC(t *testing.T) {
	old := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(old) })

	t.Setenv("GOGC", "70")
	if Set(400) || KeepHeadroom(16<<20) {
		t.Fatal("GOGC was overridden")
	}
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("GC percent = %d with GOGC set, want it untouched (100)", got)
	}
}

func TestSetWithoutGOGC(t *testing.T) {
	old := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(old) })

	t.Setenv("GOGC", "")
	if !Set(400) {
		t.Fatal("Set did nothing though GOGC is empty")
	}
	if got := debug.SetGCPercent(100); got != 400 {
		t.Fatalf("GC percent = %d, want 400", got)
	}
}

func TestPercentFor(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		live, headroom uint64
		want           int
	}{
		{0, 16 * mib, 400},         // nothing live yet: the most the headroom allows
		{2 * mib, 16 * mib, 400},   // a plugin's usual heap: capped so the minimum goal stays 16 MiB
		{8 * mib, 16 * mib, 200},   // 8 MiB may grow by 16
		{15 * mib, 16 * mib, 106},  // 10,000 instances: about Go's default
		{64 * mib, 16 * mib, 100},  // large heaps: Go's default
		{2 * mib, 2 * mib, 100},    // a headroom under the runtime's minimum heap
		{1 * mib, 100 * mib, 2500}, // a large headroom
	} {
		if got := PercentFor(c.live, c.headroom); got != c.want {
			t.Errorf("PercentFor(%d MiB live, %d MiB headroom) = %d, want %d", c.live/mib, c.headroom/mib, got, c.want)
		}
	}
}

// The tuner follows the live heap from one collection to the next.
func TestTunerFollowsTheLiveHeap(t *testing.T) {
	old := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(old) })
	if os.Getenv("GOGC") != "" {
		t.Skip("GOGC is set")
	}
	applied := make(chan int, 64)
	tu := &tuner{headroom: 16 << 20, applied: func(p int) {
		select {
		case applied <- p:
		default:
		}
	}}
	t.Cleanup(tu.stop) // before the percent is restored: cleanups run last first
	tu.apply()
	<-applied

	// 40 MiB live: the next collections bring the percent down to Go's default.
	keep := make([][]byte, 40)
	for i := range keep {
		keep[i] = make([]byte, 1<<20)
		for j := range keep[i] {
			keep[i][j] = byte(j)
		}
	}
	if !waitPercent(t, applied, func(p int) bool { return p == 100 }) {
		t.Fatal("the percent did not come down to 100 with 40 MiB live")
	}
	runtime.KeepAlive(keep)
	keep = nil

	// Freed again: back above Go's default (400 while this test binary keeps
	// under 4 MiB live).
	if !waitPercent(t, applied, func(p int) bool { return p > 100 }) {
		t.Fatal("the percent did not go back up once the heap was freed")
	}
}

// waitPercent runs collections until the tuner applies a percent that ok accepts.
func waitPercent(t *testing.T, applied <-chan int, ok func(int) bool) bool {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		runtime.GC()
		select {
		case p := <-applied:
			if ok(p) {
				return true
			}
		case <-deadline:
			return false
		}
	}
}
