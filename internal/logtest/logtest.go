// Package logtest is a log output for tests that wait for lines other
// goroutines and processes write: a waiter wakes on every write instead of
// polling on a timer.
package logtest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// Log collects what is written to it. Use it as an hclog Output.
type Log struct {
	mu    sync.Mutex
	buf   strings.Builder
	wrote chan struct{} // receives after each write, without blocking the writer
}

// New returns an empty Log.
func New() *Log { return &Log{wrote: make(chan struct{}, 1)} }

func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.buf.Write(p)
	l.mu.Unlock()
	select {
	case l.wrote <- struct{}{}:
	default:
	}
	return len(p), nil
}

// String is everything written so far.
func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// HasLine reports whether one line holds every fragment (a plugin's
// attributes come in any order).
func (l *Log) HasLine(fragments ...string) bool {
	for _, line := range strings.Split(l.String(), "\n") {
		all := true
		for _, f := range fragments {
			all = all && strings.Contains(line, f)
		}
		if all {
			return true
		}
	}
	return false
}

// HasAll reports whether every text is somewhere in the log.
func (l *Log) HasAll(texts ...string) bool {
	s := l.String()
	for _, t := range texts {
		if !strings.Contains(s, t) {
			return false
		}
	}
	return true
}

// AwaitLine returns once one line holds every fragment, and fails the test
// when ctx ends first.
func (l *Log) AwaitLine(ctx context.Context, t testing.TB, fragments ...string) {
	t.Helper()
	l.await(ctx, t, func() bool { return l.HasLine(fragments...) }, fragments)
}

// AwaitAll returns once every text is somewhere in the log, and fails the
// test when ctx ends first.
func (l *Log) AwaitAll(ctx context.Context, t testing.TB, texts ...string) {
	t.Helper()
	l.await(ctx, t, func() bool { return l.HasAll(texts...) }, texts)
}

// Await returns once done holds for the log, and fails the test with the
// message of failed when ctx ends first.
func (l *Log) Await(ctx context.Context, t testing.TB, done func(log string) bool, failed func() string) {
	t.Helper()
	for !done(l.String()) {
		select {
		case <-l.wrote:
		case <-ctx.Done():
			t.Fatal(failed())
		}
	}
}

func (l *Log) await(ctx context.Context, t testing.TB, done func() bool, want []string) {
	t.Helper()
	l.Await(ctx, t, func(string) bool { return done() }, func() string {
		return fmt.Sprintf("the log has no %q:\n%s", want, l.String())
	})
}
