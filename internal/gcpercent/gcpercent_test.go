package gcpercent

import (
	"runtime/debug"
	"testing"
)

func TestSetUnlessGOGC(t *testing.T) {
	old := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(old) })

	t.Setenv("GOGC", "70")
	if Set(400) {
		t.Fatal("Set overrode GOGC")
	}
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("GC percent = %d after Set with GOGC set, want it untouched (100)", got)
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
