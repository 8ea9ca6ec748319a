package process

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/idplug/idplug/sdk"
)

// A process that dies within crashWindow of its start counts as a crash in a row;
// one that lived longer resets the count.
const crashWindow = 10 * time.Second

// exitPollInterval is how often a running process is checked for an unexpected exit.
const exitPollInterval = 100 * time.Millisecond

// watch notices a process that died while nobody called it, and starts its
// replacement right away, so the next call finds a running plugin. go-plugin offers
// no exit notification, so it polls, cheaply.
func (p *Process) watch(c *conn) {
	defer p.bg.Done()
	t := time.NewTicker(exitPollInterval)
	defer t.Stop()
	for {
		select {
		case <-c.dropped:
			return
		case <-t.C:
			if c.client.Exited() {
				p.log.Warn("plugin process exited; restarting it", "pid", c.pid)
				p.broken(c)
				p.ensureRunning()
				return
			}
		}
	}
}

// ensureRunning starts a replacement process unless one runs or is starting, and
// returns a channel closed when the process is there (or failed to start). It
// returns nil once the plugin is closed or failed.
func (p *Process) ensureRunning() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.closed, p.failed:
		return nil
	case p.starting != nil:
		return p.starting
	case p.cur.Load() != nil:
		done := make(chan struct{})
		close(done)
		return done
	}
	p.starting = make(chan struct{})
	go p.restart(p.starting, p.backoffLocked())
	return p.starting
}

// current returns the running process, starting a new one when the last one died.
// Concurrent callers share one start. The fast path takes no lock: a process that
// died is dropped by its watcher, or by the first call that fails on it.
func (p *Process) current(ctx context.Context) (*conn, error) {
	if c := p.cur.Load(); c != nil {
		return c, nil
	}

	starting := p.ensureRunning()
	if starting == nil {
		return nil, p.unavailable()
	}
	select {
	case <-starting:
	case <-ctx.Done():
		return nil, &sdk.Error{Code: CodePluginUnavailable, Message: fmt.Sprintf("plugin %s is restarting", p.name)}
	}
	if c := p.cur.Load(); c != nil {
		return c, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return nil, &sdk.Error{Code: CodePluginUnavailable, Message: fmt.Sprintf("plugin %s could not be restarted: %v", p.name, p.startErr)}
}

func (p *Process) unavailable() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failed {
		return &sdk.Error{Code: CodePluginUnavailable, Message: fmt.Sprintf(
			"plugin %s failed: it died %d times in a row right after starting; fix or replace the binary", p.name, p.crashes)}
	}
	return &sdk.Error{Code: CodePluginUnavailable, Message: fmt.Sprintf("plugin %s is stopped", p.name)}
}

// restart launches a replacement process after delay and publishes it.
func (p *Process) restart(done chan struct{}, delay time.Duration) {
	if delay > 0 {
		p.log.Warn("plugin keeps exiting; waiting before the next start", "delay", delay)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-p.stop:
			t.Stop()
		}
	}
	var c *conn
	var err error
	if p.isClosed() {
		err = errors.New("host is shutting down")
	} else {
		c, err = p.launch()
	}
	p.mu.Lock()
	p.starting = nil
	if p.closed && c != nil {
		p.killLocked(c)
		c, err = nil, errors.New("host is shutting down")
	}
	if err != nil {
		// A start that fails counts like a crash.
		p.crashes++
		p.failed = p.crashes >= p.opts.MaxCrashes
	}
	p.cur.Store(c)
	p.startErr = err
	failed := p.failed
	p.mu.Unlock()
	close(done)
	switch {
	case failed:
		p.log.Error("plugin failed: not restarting it again", "error", err)
	case err != nil:
		p.log.Error("plugin restart failed", "error", err)
	default:
		p.log.Info("plugin restarted", "pid", c.pid)
		if p.opts.OnRestart != nil {
			p.opts.OnRestart()
		}
	}
}

func (p *Process) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// broken reports that a call on c failed because the process is gone or unreachable.
// Only the first report for a process replaces it.
func (p *Process) broken(c *conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur.Load() == c {
		p.dropLocked(c)
	}
}

// dropLocked forgets the current process c, counts its death, and kills it in the
// background. p.mu must be held.
func (p *Process) dropLocked(c *conn) {
	p.cur.Store(nil)
	if time.Since(c.started) < crashWindow {
		p.crashes++
	} else {
		p.crashes = 1
	}
	if p.crashes >= p.opts.MaxCrashes {
		p.failed = true
		p.log.Error("plugin failed: it keeps dying right after it starts; not restarting it", "crashes", p.crashes)
	}
	p.killLocked(c)
}

func (p *Process) killLocked(c *conn) {
	close(c.dropped)
	p.bg.Add(1)
	go func() {
		defer p.bg.Done()
		c.kill(p.log)
	}()
}

// backoffLocked is how long to wait before the next start: nothing after a plugin
// that ran for a while, then doubling for plugins that die right after they start.
func (p *Process) backoffLocked() time.Duration {
	if p.crashes <= 1 {
		return 0
	}
	d := 50 * time.Millisecond << min(p.crashes-2, 8)
	return min(d, 10*time.Second)
}
