package lograte

import (
	"testing"
	"time"
)

// In each second the first PerSecond lines go through; the next one after
// that says how many were left out in between.
func TestWindow(t *testing.T) {
	w := &Window{PerSecond: 2}
	at := time.Unix(1_800_000_000, 0)
	var through []int
	for i := range 10 {
		if n, ok := w.Allow(at.Add(time.Duration(i) * 100 * time.Millisecond)); ok {
			through = append(through, n)
		}
	}
	if len(through) != 2 || through[0] != 0 || through[1] != 0 {
		t.Fatalf("in the first second: %v, want two lines, none left out before them", through)
	}
	n, ok := w.Allow(at.Add(1100 * time.Millisecond))
	if !ok || n != 8 {
		t.Fatalf("the first line of the next second: %d, %v; want 8 left out", n, ok)
	}
}
