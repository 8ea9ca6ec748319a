// Package process runs one plugin executable and calls it: it starts the process with
// go-plugin, restarts it after it dies (once per death, however many callers noticed),
// gives up on a plugin that keeps dying, bounds the calls in flight, gives every call a
// deadline, and turns wire failures into connector errors.
package process

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	plugin "github.com/hashicorp/go-plugin"
	"github.com/idplug/idplug/host/sandbox"
	"github.com/idplug/idplug/host/tracing"
	connectorv1 "github.com/idplug/idplug/proto/gen/idplug/connector/v1"
	"github.com/idplug/idplug/sdk"
)

// Options tune how a plugin process is run.
type Options struct {
	// SocketDir holds a folder per started process for its Unix socket; keep its
	// path short (sockets are limited to about 100 bytes of path).
	SocketDir string
	// PluginDir is the plugin folder, for the checks of the folders between it and
	// the file before every launch; empty skips them.
	PluginDir string
	// Sandbox is how the process is confined, and SandboxReport what this kernel
	// applies of it (sandbox.Assess).
	Sandbox       sandbox.Policy
	SandboxReport sandbox.Report
	// SandboxConnect are the host's shared Landlock connect rules for egress
	// mode open (sandbox.NewConnectRules); nil makes each launch make its own.
	SandboxConnect *sandbox.ConnectRules
	// StartTimeout bounds the handshake of a starting plugin (default 10s).
	StartTimeout time.Duration
	// CallTimeout bounds every call whose context has no earlier deadline (default 10s).
	CallTimeout time.Duration
	// MaxInFlight bounds the calls in flight; past it a call fails at once with
	// CodePluginOverloaded (default 512).
	MaxInFlight int
	// ReplyBudget is the bytes of replies at full size (MaxReplySize) the
	// calls in flight may hold at once; a call made while it is spent takes a
	// reply of SmallReplySize at most (default DefaultReplyBudget).
	ReplyBudget int
	// MaxCrashes is how many times in a row the process may die soon after it
	// started before the plugin is marked failed and no longer restarted (default 5).
	MaxCrashes int
	// Logger receives the host's lines about this plugin and the plugin's own lines.
	Logger hclog.Logger
	// OnRestart is called after a dead plugin process was replaced by a new one.
	OnRestart func()
	// EgressProxy, when set and the sandbox's egress mode is proxy, starts the
	// host's egress proxy for each new process on a socket at the path given
	// (in the process's socket folder); it is closed when the process exits.
	EgressProxy func(socketPath string) (io.Closer, error)
	// Tracing, when set, traces every call to the plugin and takes the plugin's
	// own spans in (see host/tracing); nil leaves both out entirely.
	Tracing *tracing.Tracing
}

// State is where a plugin is in its life.
type State string

// The states of a plugin.
const (
	StateRunning    State = "running"
	StateRestarting State = "restarting"
	StateFailed     State = "failed"
	StateStopped    State = "stopped"
)

// Process is one plugin executable and the process currently running it.
type Process struct {
	name     string
	path     string
	checksum []byte
	opts     Options
	log      hclog.Logger
	metadata sdk.Metadata
	spans    *tracing.PluginSpans // nil when tracing is off

	mu       sync.Mutex           // guards the fields below, and every change of cur
	cur      atomic.Pointer[conn] // the running process; read without the lock on every call
	starting chan struct{}        // closed when the start in progress ends
	startErr error                // why the last start failed
	crashes  int                  // deaths in a row of processes that did not live long
	failed   bool                 // gave up restarting
	closed   bool
	stop     chan struct{}  // closed by Close, ends a backoff wait
	bg       sync.WaitGroup // watchers and kills of dead processes

	inflight atomic.Int64
	replies  *replyBudget
	drainMu  sync.Mutex
	drained  chan struct{} // closed when inflight reaches zero while draining
}

// conn is one running process.
type conn struct {
	client  *plugin.Client
	run     *cmdRunner // the process idplug started (the sandbox's launcher), to kill it
	rpc     connectorv1.ConnectorServiceClient
	pid     int
	started time.Time
	dropped chan struct{} // closed when the host stops using this process
	// known maps instance id to the configuration version this process holds, so a
	// call sends the configuration only when the process has not seen it.
	known sync.Map
}

// Start launches the plugin at path, reads its metadata, and returns it ready to call.
// checksum, when set, is the SHA-256 digest the file must have; it is checked right
// before every launch.
func Start(ctx context.Context, name, path string, checksum []byte, opts Options) (*Process, error) {
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 10 * time.Second
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = 10 * time.Second
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = 512
	}
	if opts.ReplyBudget <= 0 {
		opts.ReplyBudget = DefaultReplyBudget
	}
	if opts.MaxCrashes <= 0 {
		opts.MaxCrashes = 5
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	p := &Process{name: name, path: path, checksum: checksum, opts: opts, log: opts.Logger.Named(name), stop: make(chan struct{}),
		spans: opts.Tracing.Plugin(name), replies: newReplyBudget(opts.ReplyBudget)}
	c, err := p.launch()
	if err != nil {
		return nil, err
	}
	p.cur.Store(c)
	ctx, cancel := context.WithTimeout(ctx, opts.CallTimeout)
	defer cancel()
	resp, err := c.rpc.GetMetadata(ctx, &connectorv1.GetMetadataRequest{})
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("plugin %s: reading metadata: %w", name, decodeError(err))
	}
	p.metadata = sdk.Wire.MetadataFromProto(resp.GetMetadata())
	if err := sdk.CheckMetadata(p.metadata); err != nil {
		p.Close()
		return nil, fmt.Errorf("plugin %s: metadata %w", name, err)
	}
	return p, nil
}

// Name is the plugin's file name without the idplug-connector- prefix.
func (p *Process) Name() string { return p.name }

// Path is the executable.
func (p *Process) Path() string { return p.path }

// Metadata is what the plugin said about itself when it first started.
func (p *Process) Metadata() sdk.Metadata { return p.metadata }

// InFlight is the number of calls in flight.
func (p *Process) InFlight() int { return int(p.inflight.Load()) }

// PID is the id of the running process, or 0 while none runs.
func (p *Process) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.cur.Load()
	if c == nil || c.client.Exited() {
		return 0
	}
	return c.pid
}

// State says whether the plugin runs, is being restarted, has failed or is stopped.
func (p *Process) State() State {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.closed:
		return StateStopped
	case p.failed:
		return StateFailed
	case running(p.cur.Load()):
		return StateRunning
	default:
		return StateRestarting
	}
}

func running(c *conn) bool { return c != nil && !c.client.Exited() }

// Close stops the plugin process and waits for it to exit.
func (p *Process) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	close(p.stop)
	starting := p.starting
	p.mu.Unlock()
	if starting != nil {
		<-starting // a start in flight sees closed and stops its own process
	}
	p.mu.Lock()
	c := p.cur.Swap(nil)
	if c != nil {
		close(c.dropped)
	}
	p.mu.Unlock()
	if c != nil {
		c.kill(p.log)
	}
	p.bg.Wait()
}

// kill stops the process; go-plugin then removes its socket folder, which a plugin
// killed with SIGKILL cannot remove itself.
func (c *conn) kill(log hclog.Logger) {
	stopClient(c.client, c.run, log)
}

// shutdownGrace is how long a plugin has to stop on its own once asked.
// go-plugin's Kill sends the Shutdown call with no deadline and waits for the
// process to exit, so a plugin that never answered held Close, Drain, a failed
// Start (and with it a scan and the host's startup) for good. An honest plugin
// stops its server and exits within milliseconds of the call; two seconds is
// go-plugin's own wait for the exit after an answered Shutdown, ample on a
// loaded machine and short enough not to hold a reload or a stop noticeably.
const shutdownGrace = 2 * time.Second

// stopClient stops client's process as go-plugin's Kill does (the Shutdown call,
// then waiting for the exit), but kills the process run started once
// shutdownGrace has passed: its exit ends the Shutdown call (go-plugin's
// context for it ends with the process) and Kill returns. That process is the
// plugin (the launcher executes it in place), the first process of its PID
// namespace, or, for a host that is not root, the launcher's outer step, whose
// death kills that first one (Pdeathsig): the kill ends whatever the plugin
// started there. It returns once the timer's goroutine has ended too.
func stopClient(client *plugin.Client, run *cmdRunner, log hclog.Logger) {
	stopped, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTimer(shutdownGrace)
		defer t.Stop()
		select {
		case <-stopped:
		case <-t.C:
			log.Warn("plugin did not stop when asked; killing it", "grace", shutdownGrace)
			if run != nil {
				_ = run.Kill(context.Background())
			}
		}
	}()
	client.Kill()
	close(stopped)
	<-done
}

// Drain waits until the calls in flight have finished (or ctx ends), then stops the
// process. The host drains a plugin it replaced or removed, after routing new calls
// elsewhere.
func (p *Process) Drain(ctx context.Context) {
	p.drainMu.Lock()
	var wait chan struct{}
	if p.inflight.Load() > 0 {
		p.drained = make(chan struct{})
		wait = p.drained
	}
	p.drainMu.Unlock()
	if wait != nil {
		select {
		case <-wait:
		case <-ctx.Done():
			p.log.Warn("stopping a plugin with calls still in flight", "calls", p.inflight.Load())
		}
	}
	p.Close()
}

// enter counts a call in, or refuses it when too many are in flight already.
func (p *Process) enter() error {
	if n := p.inflight.Add(1); n > int64(p.opts.MaxInFlight) {
		p.leave()
		return &sdk.Error{Code: CodePluginOverloaded,
			Message: fmt.Sprintf("plugin %s has %d calls in flight already; retry shortly", p.name, p.opts.MaxInFlight)}
	}
	return nil
}

func (p *Process) leave() {
	if p.inflight.Add(-1) == 0 {
		p.drainMu.Lock()
		if p.drained != nil && p.inflight.Load() == 0 {
			close(p.drained)
			p.drained = nil
		}
		p.drainMu.Unlock()
	}
}
