package procs

import (
	"context"
	"sync"
	"testing"
	"time"
)

// recordProcs collects what a tuner sets.
type recordProcs struct {
	mu  sync.Mutex
	set []int
	ch  chan int
}

func newRecordProcs() *recordProcs { return &recordProcs{ch: make(chan int, 16)} }

func (r *recordProcs) setProcs(n int) {
	r.mu.Lock()
	r.set = append(r.set, n)
	r.mu.Unlock()
	r.ch <- n
}

func (r *recordProcs) all() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int(nil), r.set...)
}

// call runs one call that stays in flight until release is closed.
func call(t *Tuner, release <-chan struct{}) {
	t.Enter()
	defer t.Leave()
	<-release
}

func done() chan struct{} { c := make(chan struct{}); close(c); return c }

func TestProcTunerGoesDownAfterAWindowOfSequentialCalls(t *testing.T) {
	r := newRecordProcs()
	tu := newTuner(r.setProcs)
	call(tu, done())
	call(tu, done())
	if !tu.check() {
		t.Fatal("check after sequential calls did not go down")
	}
	if got := r.all(); len(got) != 1 || got[0] != 1 {
		t.Fatalf("set %v, want [1]", got)
	}
	// Nothing more to do while narrow and idle.
	if tu.check() || len(r.all()) != 1 {
		t.Fatalf("a second check changed something: %v", r.all())
	}
}

func TestProcTunerStaysWideWhileCallsOverlap(t *testing.T) {
	r := newRecordProcs()
	tu := newTuner(r.setProcs)
	release := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	started := make(chan struct{}, 2)
	for range 2 {
		go func() {
			defer wg.Done()
			tu.Enter()
			defer tu.Leave()
			started <- struct{}{}
			<-release
		}()
	}
	<-started
	<-started
	if tu.check() {
		t.Fatal("went down with two calls in flight")
	}
	close(release)
	wg.Wait()
	// The window that began with two calls in flight counts as overlapped; the
	// next one saw none.
	if tu.check() {
		t.Fatal("went down at the end of a window that began overlapped")
	}
	if !tu.check() {
		t.Fatal("did not go down after the overlap ended")
	}
	if got := r.all(); len(got) != 1 || got[0] != 1 {
		t.Fatalf("set %v, want [1]", got)
	}
}

func TestProcTunerGoesUpAsSoonAsCallsOverlap(t *testing.T) {
	r := newRecordProcs()
	tu := newTuner(r.setProcs)
	// Narrow before the loop starts: while narrow it has no timer, so only the
	// overlap below can make it act.
	if !tu.check() || <-r.ch != 1 {
		t.Fatal("did not go down")
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { tu.run(ctx, time.Hour); close(stopped) }()
	defer func() { cancel(); <-stopped }()

	release := make(chan struct{})
	first := make(chan struct{})
	go func() {
		tu.Enter()
		defer tu.Leave()
		close(first)
		<-release
	}()
	<-first
	go call(tu, release)
	if n := waitSet(t, r); n != 0 {
		t.Fatalf("set %d, want 0 (the runtime's default)", n)
	}
	close(release)
}

// The loop checks once a window while wide: with no call at all it goes down.
func TestProcTunerLoopChecksEveryWindow(t *testing.T) {
	r := newRecordProcs()
	tu := newTuner(r.setProcs)
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { tu.run(ctx, time.Millisecond); close(stopped) }()
	defer func() { cancel(); <-stopped }()
	if n := waitSet(t, r); n != 1 {
		t.Fatalf("set %d, want 1", n)
	}
}

func waitSet(t *testing.T, r *recordProcs) int {
	t.Helper()
	select {
	case n := <-r.ch:
		return n
	case <-time.After(10 * time.Second):
		t.Fatalf("the tuner set nothing; so far %v", r.all())
		return 0
	}
}

func TestStartRespectsGOMAXPROCS(t *testing.T) {
	t.Setenv("GOMAXPROCS", "2")
	if Start(context.Background()) != nil {
		t.Fatal("the tuner started though GOMAXPROCS is set")
	}
}

func TestANilTunerDoesNothing(t *testing.T) {
	var tu *Tuner
	tu.Enter()
	tu.Leave()
}
