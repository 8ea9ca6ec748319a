package supervisor

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/idplug/idplug/internal/plugintest"
)

// A start on demand waits for another plugin's start, or a scan, only as long
// as its caller: a plugin slow to start holds the lock for up to its start
// timeout, and a sign-in for another plugin had waited all of it, past its own
// deadline.
func TestStartOnDemandWaitsOnlyAsLongAsItsCaller(t *testing.T) {
	s := onDemandExample(t)

	s.reconcile.Lock() // what a slow start or scan holds
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := s.Start(ctx, "example")
		done <- err
	}()
	bound := time.NewTimer(30 * time.Second)
	defer bound.Stop()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Start while the lock is held: %v; want its caller's deadline", err)
		}
	case <-bound.C:
		s.reconcile.Unlock()
		<-done
		t.Fatal("Start waited for the lock past its caller's deadline")
	}
	s.reconcile.Unlock()
	if _, err := s.Start(t.Context(), "example"); err != nil {
		t.Fatalf("Start once the lock is free: %v", err)
	}
}

// A start its caller gave up on (a browser that hung up, a deadline that ran
// out) is no failure of the plugin: it puts the plugin in no backoff, so a
// caller cannot keep a plugin down for everyone by hanging up.
func TestAStartItsCallerAbandonedBacksNothingOff(t *testing.T) {
	s := onDemandExample(t)
	gone, cancel := context.WithCancel(t.Context())
	cancel()
	// Taken with the lock free and the context ended, the lock goes either
	// way at random: ten tries take the start itself almost surely.
	for range 10 {
		if _, err := s.Start(gone, "example"); err == nil {
			t.Fatal("a start with an ended context succeeded")
		}
	}
	if _, err := s.Start(t.Context(), "example"); err != nil {
		t.Fatalf("a caller after those that hung up: %v; want the plugin started", err)
	}
}

// onDemandExample is a supervisor of a folder holding the example plugin,
// started on demand, closed when the test ends.
func onDemandExample(t *testing.T) *Supervisor {
	t.Helper()
	dir := plugintest.Folder(t)
	plugintest.Install(t, dir, plugintest.Binary(t, "./plugins/example"), "example")
	s, err := Open(context.Background(), Options{PluginDir: dir, OnDemand: true, Logger: hclog.NewNullLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}
