package connectortest

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
)

// T is what the kit needs of a test. *testing.T satisfies it, and so does any test
// double that records failures, which is how the kit's own tests prove that a check
// fails. A T whose Run method takes a func(T) gets one subtest per check, as
// *testing.T does; any other T runs the checks one after the other.
type T interface {
	Helper()
	Logf(format string, args ...any)
	Errorf(format string, args ...any)
	// Fatalf and Skipf end the check that calls them (testing.T calls runtime.Goexit).
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
	Cleanup(func())
	TempDir() string
	// Context is canceled when the test ends.
	Context() context.Context
}

// Runner is a T that runs subtests.
type Runner interface {
	T
	Run(name string, f func(T)) bool
}

// subtest runs f as a subtest named name when t can run subtests, and in a goroutine
// of its own otherwise, so that a Fatalf in f ends f only.
func subtest(t T, name string, f func(T)) {
	t.Helper()
	switch r := t.(type) {
	case interface {
		Run(string, func(*testing.T)) bool
	}:
		r.Run(name, func(st *testing.T) { f(st) })
	case Runner:
		r.Run(name, f)
	default:
		done := make(chan struct{})
		go func() {
			defer close(done)
			f(prefixed{T: t, name: name})
		}()
		<-done
	}
}

// prefixed names the check in every message of a T that cannot run subtests.
type prefixed struct {
	T
	name string
}

func (p prefixed) Logf(format string, args ...any) {
	p.T.Logf("%s: %s", p.name, fmt.Sprintf(format, args...))
}
func (p prefixed) Errorf(format string, args ...any) {
	p.T.Errorf("%s: %s", p.name, fmt.Sprintf(format, args...))
}
func (p prefixed) Fatalf(format string, args ...any) {
	p.T.Errorf("%s: %s", p.name, fmt.Sprintf(format, args...))
	runtime.Goexit()
}
func (p prefixed) Skipf(format string, args ...any) {
	p.T.Logf("%s: skipped: %s", p.name, fmt.Sprintf(format, args...))
	runtime.Goexit()
}

// counting counts the failures reported through it, so Run can tell whether anything
// failed without asking more of T.
type counting struct {
	T
	failures *atomic.Int64
}

func (c counting) Errorf(format string, args ...any) {
	c.failures.Add(1)
	c.T.Helper()
	c.T.Errorf(format, args...)
}

func (c counting) Fatalf(format string, args ...any) {
	c.failures.Add(1)
	c.T.Helper()
	c.T.Fatalf(format, args...)
}
