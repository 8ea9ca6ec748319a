package sdk

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	connectorv1 "github.com/idplug/idplug/proto/gen/idplug/connector/v1"
)

// A failure that says nothing about the configuration (the Logto bridge's Node
// did not start, a check timed out) is not kept for the configuration's
// version: the plugin still answers, so it is never restarted, and a kept
// failure would fail every call of that instance until it was.
func TestOnlySettledParsesAreKept(t *testing.T) {
	calls := 0
	outcomes := []error{
		Errorf(CodeGeneral, "Node process exited before it answered"),
		nil,
	}
	cache := newInstanceCache(func(raw []byte) (string, error) {
		err := outcomes[min(calls, len(outcomes)-1)]
		calls++
		return string(raw), err
	})
	if _, err := cache.get(t.Context(), inst("a", "v1", "cfg")); err == nil {
		t.Fatal("the first parse failed, yet get succeeded")
	}
	if cfg, err := cache.get(t.Context(), inst("a", "v1", "cfg")); err != nil || cfg != "cfg" {
		t.Fatalf("the same version again: %q, %v; the transient failure was kept", cfg, err)
	}
	if _, err := cache.get(t.Context(), inst("a", "v1", "")); err != nil || calls != 2 {
		t.Fatalf("a call without the configuration: %v after %d parses", err, calls)
	}

	// A verdict on the configuration is kept: it does not change by asking again.
	for _, verdict := range []error{(&ConfigError{Fields: []FieldError{{Field: "x", Message: "bad"}}}), Errorf(CodeInvalidConfig, "no")} {
		calls = 0
		cache := newInstanceCache(func(raw []byte) (string, error) { calls++; return "", verdict })
		for range 3 {
			if _, err := cache.get(t.Context(), inst("b", "v1", "cfg")); !errors.Is(err, verdict) {
				t.Fatalf("err = %v", err)
			}
		}
		if calls != 1 {
			t.Errorf("%v: parsed %d times", verdict, calls)
		}
	}
}

// doneWatcher is a context that says when a call first asks for its Done
// channel: the moment a call starts waiting for another call's parse.
type doneWatcher struct {
	context.Context
	asked chan struct{}
	once  sync.Once
}

func watchDone(ctx context.Context) *doneWatcher {
	return &doneWatcher{Context: ctx, asked: make(chan struct{})}
}

func (w *doneWatcher) Done() <-chan struct{} {
	w.once.Do(func() { close(w.asked) })
	return w.Context.Done()
}

// blockingParse is a ParseConfig whose first call waits for finish, returning
// firstErr; it counts its calls.
type blockingParse struct {
	parses   atomic.Int32
	entered  chan struct{} // closed when the first parse starts
	unblock  chan struct{}
	once     sync.Once
	firstErr error
}

// newBlockingParse's first parse ends at the test's end at the latest, so a
// failed test leaves no call behind.
func newBlockingParse(t *testing.T, firstErr error) *blockingParse {
	b := &blockingParse{entered: make(chan struct{}), unblock: make(chan struct{}), firstErr: firstErr}
	t.Cleanup(b.finish)
	return b
}

func (b *blockingParse) finish() { b.once.Do(func() { close(b.unblock) }) }

func (b *blockingParse) parse(raw []byte) (string, error) {
	if b.parses.Add(1) == 1 {
		close(b.entered)
		<-b.unblock
		return string(raw), b.firstErr
	}
	return string(raw), nil
}

type getResult struct {
	cfg string
	err error
}

// startGet runs cache.get in the background.
func startGet(ctx context.Context, cache *instanceCache[string], in *connectorv1.Instance) <-chan getResult {
	out := make(chan getResult, 1)
	go func() {
		cfg, err := cache.get(ctx, in)
		out <- getResult{cfg, err}
	}()
	return out
}

// joinWhileParsing starts a call of the version the first call is parsing and
// returns once it waits for that parse (or, when it parsed on its own, has
// answered).
func joinWhileParsing(t *testing.T, cache *instanceCache[string], in *connectorv1.Instance) <-chan getResult {
	t.Helper()
	ctx := watchDone(t.Context())
	second := startGet(ctx, cache, in)
	select {
	case <-ctx.asked:
		return second
	case r := <-second:
		done := make(chan getResult, 1)
		done <- r
		return done
	}
}

// After a plugin restart the host sends the configuration with every call until
// one succeeds, so calls that come together carry the same version: the
// guide's "ParseConfig once per instance and configuration version" holds for
// them too, and no parsed configuration is overwritten without its Release.
func TestConcurrentCallsOfOneVersionShareOneParse(t *testing.T) {
	b := newBlockingParse(t, nil)
	cache := newInstanceCache(b.parse)
	first := startGet(t.Context(), cache, inst("a", "v1", "cfg"))
	<-b.entered
	second := joinWhileParsing(t, cache, inst("a", "v1", "cfg"))
	// A call that names the version without its configuration waits too.
	third := joinWhileParsing(t, cache, inst("a", "v1", ""))
	b.finish()
	for _, r := range []getResult{<-first, <-second, <-third} {
		if r.cfg != "cfg" || r.err != nil {
			t.Errorf("get = %q, %v", r.cfg, r.err)
		}
	}
	if n := b.parses.Load(); n != 1 {
		t.Fatalf("ParseConfig ran %d times for one instance and version", n)
	}
}

// A failure that is not a verdict on the configuration reaches the calls that
// waited for it, and is not kept: the next call parses again.
func TestAFailedParseIsSharedOnlyWithItsWaiters(t *testing.T) {
	b := newBlockingParse(t, Errorf(CodeGeneral, "Node did not start"))
	cache := newInstanceCache(b.parse)
	first := startGet(t.Context(), cache, inst("a", "v1", "cfg"))
	<-b.entered
	second := joinWhileParsing(t, cache, inst("a", "v1", "cfg"))
	b.finish()
	for _, r := range []getResult{<-first, <-second} {
		if !errors.Is(r.err, b.firstErr) {
			t.Errorf("err = %v, want the parse's own", r.err)
		}
	}
	if cfg, err := cache.get(t.Context(), inst("a", "v1", "cfg")); err != nil || cfg != "cfg" || b.parses.Load() != 2 {
		t.Fatalf("after the failure: %q, %v, %d parses; want a second parse that succeeds", cfg, err, b.parses.Load())
	}
}

// A call waits for another's parse only as long as its own context lets it.
func TestWaitingForAParseEndsWithTheCall(t *testing.T) {
	b := newBlockingParse(t, nil)
	cache := newInstanceCache(b.parse)
	first := startGet(t.Context(), cache, inst("a", "v1", "cfg"))
	<-b.entered
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := cache.get(ctx, inst("a", "v1", "cfg")); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want the call's own context.Canceled", err)
	}
	b.finish()
	if r := <-first; r.err != nil || r.cfg != "cfg" || b.parses.Load() != 1 {
		t.Fatalf("the parse itself: %q, %v after %d parses", r.cfg, r.err, b.parses.Load())
	}
}

// The host checks a new version before it releases the old one, and calls of
// the old one may still come meanwhile: they are served from the retired
// configuration, not parsed again.
func TestTheReplacedVersionStillServesUntilReleased(t *testing.T) {
	var parses atomic.Int32
	cache := newInstanceCache(func(raw []byte) (string, error) { parses.Add(1); return string(raw), nil })
	for _, in := range []*connectorv1.Instance{inst("a", "v1", "old"), inst("a", "v2", "new"), inst("a", "v1", "")} {
		if _, err := cache.get(t.Context(), in); err != nil {
			t.Fatalf("%s: %v", in.GetConfigVersion(), err)
		}
	}
	if cfg, err := cache.get(t.Context(), inst("a", "v1", "old")); err != nil || cfg != "old" || parses.Load() != 2 {
		t.Fatalf("v1 = %q, %v after %d parses; want it served as parsed the first time", cfg, err, parses.Load())
	}
}
