package supervisor

import (
	"slices"
	"sync"
	"testing"
)

// TestRestartNotice: restarts are told by the metadata id; one that happens
// before the first start returned (the id is not known yet) is told once it
// is, never under another name nor lost; without a callback nothing happens.
func TestRestartNotice(t *testing.T) {
	var mu sync.Mutex
	var got []string
	notify := func(id string) {
		mu.Lock()
		got = append(got, id)
		mu.Unlock()
	}
	var r restartNotice
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.restarted(notify)
		}()
	}
	wg.Wait()
	if len(got) != 0 {
		t.Fatalf("told %q before the id was known", got)
	}
	r.started("logto-github-universal", notify)
	r.restarted(notify)
	if want := slices.Repeat([]string{"logto-github-universal"}, 4); !slices.Equal(got, want) {
		t.Errorf("told %q, want %q", got, want)
	}
	var quiet restartNotice
	quiet.restarted(nil)
	quiet.started("example", nil)
	quiet.restarted(nil)
}
