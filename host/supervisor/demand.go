package supervisor

import (
	"context"
	"fmt"
	"time"

	"github.com/idplug/idplug/host/process"
)

// Keep names the plugins that must run: those of the configured connector
// instances. With Options.OnDemand, a running plugin not named is drained and
// stopped (its metadata stays known), and a named one that is idle starts. A
// plugin that fails to start is logged; the calls routed to it start it again.
// Without Options.OnDemand, Keep changes nothing.
func (s *Supervisor) Keep(ctx context.Context, ids []string) {
	if !s.opts.OnDemand {
		return
	}
	wanted := make(map[string]bool, len(ids))
	for _, id := range ids {
		wanted[id] = true
	}
	s.reconcile.Lock()
	s.mu.Lock()
	s.wanted = wanted
	var idle []string
	for id, l := range s.plugins {
		switch {
		case !wanted[id] && l.proc != nil:
			s.log.Info("no connector needs the plugin; stopping it", "id", id, "pid", l.proc.PID())
			s.drain(l.proc)
			l.proc = nil
		case wanted[id] && l.proc == nil:
			idle = append(idle, id)
		}
	}
	s.mu.Unlock()
	s.reconcile.Unlock()
	for _, id := range idle {
		if _, err := s.Start(ctx, id); err != nil {
			s.log.Error("starting a plugin a connector needs", "id", id, "error", err)
		}
	}
}

// Start returns the running plugin whose metadata id is id, starting it first
// when it is idle. It fails when no plugin has that id, or when the plugin's
// file now reports another id (it was replaced; the next scan sorts it out).
func (s *Supervisor) Start(ctx context.Context, id string) (*process.Process, error) {
	if proc, ok := s.Plugin(id); ok {
		return proc, nil
	}
	// One start at a time, and none while a scan swaps files; waited for no
	// longer than the caller waits.
	if err := s.reconcile.LockContext(ctx); err != nil {
		return nil, fmt.Errorf("plugin %s: waiting for another plugin's start or a scan of the folder: %w", id, err)
	}
	defer s.reconcile.Unlock()
	s.mu.RLock()
	l, ok := s.plugins[id]
	var proc *process.Process
	if ok {
		proc = l.proc
	}
	s.mu.RUnlock()
	switch {
	case !ok:
		return nil, fmt.Errorf("no plugin with id %q", id)
	case proc != nil:
		return proc, nil // started while this caller waited
	}
	if wait := l.retryIn(time.Now()); wait > 0 {
		return nil, fmt.Errorf("plugin %s (%s) failed to start %s ago (%w); the next try is in %s",
			id, l.file.File, time.Since(l.failedAt).Round(time.Second), l.failure, wait.Round(time.Second))
	}
	proc, err := s.startPlugin(ctx, l.file)
	if err != nil {
		// A start cut short by its caller (who hung up, or ran out of time)
		// says nothing of the plugin: it would put the plugin in backoff
		// for every other caller.
		if ctx.Err() == nil {
			l.failedAt, l.failure, l.failures = time.Now(), err, l.failures+1
		}
		return nil, fmt.Errorf("plugin %s (%s): %w", id, l.file.File, err)
	}
	l.failure, l.failures = nil, 0
	if got := proc.Metadata().ID; got != id {
		s.drain(proc)
		return nil, fmt.Errorf("plugin file %s now reports id %q, not %q", l.file.File, got, id)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.plugins[id] != l || l.proc != nil {
		s.drain(proc)
		if s.plugins[id] == l && l.proc != nil {
			return l.proc, nil
		}
		return nil, fmt.Errorf("plugin %s was replaced while it started", id)
	}
	l.proc, l.meta = proc, proc.Metadata()
	s.log.Info("plugin started for its connectors", "id", id, "file", l.file.File, "pid", proc.PID())
	return proc, nil
}

// startBackoff spaces the starts on demand of a plugin that fails to start:
// every call routed to it would otherwise launch a process (a sandbox, an
// exec, a handshake's wait), so that anyone who can reach a sign-in route
// could make idplug launch processes as fast as they send requests. It
// doubles from minStartBackoff at each failure in a row, up to
// maxStartBackoff; a start that succeeds, or a new file, starts it over.
const (
	minStartBackoff = 5 * time.Second
	maxStartBackoff = time.Minute
)

// retryIn is how long until l's next start may be tried; 0 when now.
func (l *loaded) retryIn(now time.Time) time.Duration {
	if l.failure == nil {
		return 0
	}
	backoff := minStartBackoff << min(l.failures-1, 4)
	return max(0, min(backoff, maxStartBackoff)-now.Sub(l.failedAt))
}
