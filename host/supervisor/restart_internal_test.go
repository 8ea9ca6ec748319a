package supervisor

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
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

func TestStartBackoffDoublesUpToAMinute(t *testing.T) {
	at := time.Unix(1_000_000, 0)
	for failures, want := range map[int]time.Duration{1: 5 * time.Second, 2: 10 * time.Second, 3: 20 * time.Second, 4: 40 * time.Second, 5: time.Minute, 9: time.Minute} {
		l := &loaded{failedAt: at, failure: errors.New("exit status 3"), failures: failures}
		if got := l.retryIn(at); got != want {
			t.Errorf("after %d failures: %s; want %s", failures, got, want)
		}
		if got := l.retryIn(at.Add(want)); got != 0 {
			t.Errorf("after %d failures, once the backoff has passed: %s", failures, got)
		}
	}
	if got := (&loaded{}).retryIn(at); got != 0 {
		t.Errorf("without a failure: %s", got)
	}
}
