// Package kitrecord runs the conformance kit with a Recorder in place of a
// testing.T, so the kit's own tests (in process and through the host) can assert
// which checks fail and why.
package kitrecord

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/idplug/idplug/sdk/connectortest"
)

// Recorder is a connectortest.T that records failures instead of failing the test,
// so a test can assert which checks fail. Subtests run in goroutines of their own, as
// testing.T's do, so Fatalf and Skipf end the subtest only.
type Recorder struct {
	t    *testing.T // for TempDir, Cleanup and Context, which must really work
	name string
	rec  *Records
}

// Records are the failures and log lines of one run of the kit.
type Records struct {
	mu       sync.Mutex
	failures []record
	logs     []string
}

type record struct {
	check   string
	message string
}

// New returns a Recorder whose TempDir, Cleanup and Context are t's.
func New(t *testing.T) *Recorder {
	return &Recorder{t: t, rec: &Records{}}
}

// Records are what the run recorded so far.
func (r *Recorder) Records() *Records { return r.rec }

func (r *Recorder) add(format string, args ...any) {
	r.rec.mu.Lock()
	defer r.rec.mu.Unlock()
	r.rec.failures = append(r.rec.failures, record{r.name, fmt.Sprintf(format, args...)})
}

func (r *Recorder) Helper() {}

func (r *Recorder) Logf(format string, args ...any) {
	r.rec.mu.Lock()
	defer r.rec.mu.Unlock()
	r.rec.logs = append(r.rec.logs, r.name+": "+fmt.Sprintf(format, args...))
}

func (r *Recorder) Errorf(format string, args ...any) { r.add(format, args...) }

func (r *Recorder) Fatalf(format string, args ...any) {
	r.add(format, args...)
	runtime.Goexit()
}

func (r *Recorder) Skipf(format string, args ...any) {
	r.Logf("skipped: "+format, args...)
	runtime.Goexit()
}

func (r *Recorder) Cleanup(f func())         { r.t.Cleanup(f) }
func (r *Recorder) TempDir() string          { return r.t.TempDir() }
func (r *Recorder) Context() context.Context { return r.t.Context() }

func (r *Recorder) Run(name string, f func(connectortest.T)) bool {
	child := &Recorder{t: r.t, name: strings.TrimPrefix(r.name+"/"+name, "/"), rec: r.rec}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(child)
	}()
	<-done
	return true
}

// Run runs the kit against target with a Recorder, in a goroutine of its own so that
// a Fatalf at the top ends the kit's run, not the test.
func Run(t *testing.T, target connectortest.Target, opts connectortest.Options) *Records {
	r := New(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		connectortest.Run(r, target, opts)
	}()
	<-done
	return r.rec
}

// Failed lists the checks that failed ("" for the run itself), sorted.
func (r *Records) Failed() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, f := range r.failures {
		if !slices.Contains(out, f.check) {
			out = append(out, f.check)
		}
	}
	sort.Strings(out)
	return out
}

func (r *Records) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, f := range r.failures {
		fmt.Fprintf(&b, "\n  FAIL %s: %s", f.check, f.message)
	}
	for _, l := range r.logs {
		fmt.Fprintf(&b, "\n  log %s", truncate(l, 2000))
	}
	return b.String()
}

// Messages is every failure message of check, joined.
func (r *Records) Messages(check string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var parts []string
	for _, f := range r.failures {
		if f.check == check {
			parts = append(parts, f.message)
		}
	}
	return strings.Join(parts, "\n")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// AssertFailed fails t unless exactly the checks want failed, the first with a
// message containing msg.
func AssertFailed(t *testing.T, rec *Records, want []string, msg string) {
	t.Helper()
	if got := rec.Failed(); !slices.Equal(got, want) {
		t.Fatalf("failed checks = %v, want %v:%s", got, want, rec)
	}
	if text := rec.Messages(want[0]); !strings.Contains(text, msg) {
		t.Errorf("%s failed with %q, want a message containing %q", want[0], text, msg)
	}
}
