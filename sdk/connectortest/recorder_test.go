package connectortest_test

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

// recorder is a connectortest.T that records failures instead of failing the test,
// so a test can assert which checks fail. Subtests run in goroutines of their own, as
// testing.T's do, so Fatalf and Skipf end the subtest only.
type recorder struct {
	t    *testing.T // for TempDir, Cleanup and Context, which must really work
	name string
	rec  *records
}

type records struct {
	mu       sync.Mutex
	failures []record
	logs     []string
}

type record struct {
	check   string
	message string
}

func newRecorder(t *testing.T) *recorder {
	return &recorder{t: t, rec: &records{}}
}

func (r *recorder) add(format string, args ...any) {
	r.rec.mu.Lock()
	defer r.rec.mu.Unlock()
	r.rec.failures = append(r.rec.failures, record{r.name, fmt.Sprintf(format, args...)})
}

func (r *recorder) Helper() {}

func (r *recorder) Logf(format string, args ...any) {
	r.rec.mu.Lock()
	defer r.rec.mu.Unlock()
	r.rec.logs = append(r.rec.logs, r.name+": "+fmt.Sprintf(format, args...))
}

func (r *recorder) Errorf(format string, args ...any) { r.add(format, args...) }

func (r *recorder) Fatalf(format string, args ...any) {
	r.add(format, args...)
	runtime.Goexit()
}

func (r *recorder) Skipf(format string, args ...any) {
	r.Logf("skipped: "+format, args...)
	runtime.Goexit()
}

func (r *recorder) Cleanup(f func())         { r.t.Cleanup(f) }
func (r *recorder) TempDir() string          { return r.t.TempDir() }
func (r *recorder) Context() context.Context { return r.t.Context() }

func (r *recorder) Run(name string, f func(connectortest.T)) bool {
	child := &recorder{t: r.t, name: strings.TrimPrefix(r.name+"/"+name, "/"), rec: r.rec}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(child)
	}()
	<-done
	return true
}

// run runs the kit against target with a recorder, in a goroutine of its own so that
// a Fatalf at the top ends the kit's run, not the test.
func run(t *testing.T, target connectortest.Target, opts connectortest.Options) *records {
	r := newRecorder(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		connectortest.Run(r, target, opts)
	}()
	<-done
	return r.rec
}

// failed lists the checks that failed ("" for the run itself), sorted.
func (r *records) failed() []string {
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

func (r *records) String() string {
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

// messages is every failure message of check, joined.
func (r *records) messages(check string) string {
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
