// Package host is the idplug runtime: it serves configured connector instances
// through the plugins that a supervisor (host/supervisor) runs from a folder. The
// idplug command (host/cmd/idplug) is a thin layer over this package; an identity
// server written in Go can embed it directly.
package host

import (
	"context"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/idplug/idplug/host/egress"
	"github.com/idplug/idplug/host/process"
	"github.com/idplug/idplug/host/sandbox"
	"github.com/idplug/idplug/host/supervisor"
	"github.com/idplug/idplug/host/tracing"
)

// Options configure a Host.
type Options struct {
	// PluginDir is the folder holding idplug-connector-* executables.
	PluginDir string
	// CallTimeout bounds every call to a plugin (default 10s).
	CallTimeout time.Duration
	// StartTimeout bounds a plugin's start and handshake (default 10s).
	StartTimeout time.Duration
	// StartConcurrency is how many plugins start at once; 0 starts them all together.
	StartConcurrency int
	// MaxInFlight bounds the calls in flight per plugin (default 512).
	MaxInFlight int
	// Watch makes the host follow the plugin folder: new binaries start, replaced ones
	// are swapped without dropping calls, removed ones are drained and stopped.
	Watch bool
	// SettleTime is how long the folder must stay unchanged before the host acts on
	// a change, so a binary still being copied is not started (default 500ms).
	SettleTime time.Duration
	// Logger receives the host's and the plugins' log lines.
	Logger hclog.Logger
	// OnRestart is called with the plugin's metadata id each time a dead plugin
	// is restarted.
	OnRestart func(plugin string)
	// OnCall is called after every call to a connector instance, for metrics.
	OnCall func(call CallInfo)
	// OnRescan is called after each scan of the plugin folder the watcher made.
	OnRescan func(error)
	// Sandbox is how plugins are confined (see host/sandbox); the zero value is
	// mode auto: everything the kernel supports.
	Sandbox sandbox.Policy
	// OnDemand runs a plugin only while a configured instance needs it: the
	// folder's scan starts each plugin once to read its metadata, then stops
	// it; Configure starts the plugins of its instances and stops the others.
	// Without it every plugin found keeps running.
	OnDemand bool
	// OnEgressRefused is called with the plugin's metadata id and the reason
	// (egress.Reason*) each time the egress proxy refuses a plugin, for metrics.
	OnEgressRefused func(plugin, reason string)
	// Tracing, when set, traces calls to plugins and exports the plugins' spans
	// (see host/tracing); nil, the default, is off.
	Tracing *tracing.Tracing
}

// CallInfo describes a finished call to a connector instance.
type CallInfo struct {
	Instance string
	Plugin   string
	// RPC is the call's name: AuthorizationURI, UserInfo or RefreshTokens.
	RPC      string
	Duration time.Duration
	// Err is nil on success; otherwise usually an *sdk.Error.
	Err error
}

// PluginInfo describes a plugin, running or idle.
type PluginInfo = supervisor.PluginInfo

// Host serves connector instances through the plugins of one plugin folder. The
// supervisor's methods (Plugins, Plugin, Refused, Ignored, Rescan, Sandbox) are
// the host's too.
type Host struct {
	*supervisor.Supervisor
	opts Options
	log  hclog.Logger

	// reconfig is held through Configure and each rescan of the folder: a
	// replacement checked (vetReplacement) while a reload ran had been
	// checked against the configuration before it, and the reload's by the
	// old process, so the new one served a configuration it refused. Taken
	// before the supervisor's locks, never while holding mu. A channel of
	// one, so that a reload gives up waiting when its caller does.
	reconfig chan struct{}

	mu        sync.RWMutex
	instances map[string]*instance // configured instances by id
	order     []string             // instance ids in configuration order
	releasing sync.WaitGroup       // ReleaseInstances calls in the background
	now       func() time.Time     // time.Now; tests move it
}

// Open scans the plugin folder and starts every plugin that passes the checks, in
// parallel. A plugin that fails is reported by Refused and does not stop the others;
// Open fails only when the folder itself cannot be used. No instance is served
// until Configure.
func Open(ctx context.Context, opts Options) (*Host, error) {
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	// The proxies ask for their rules at each request, once the host exists.
	var self atomic.Pointer[Host]
	sup, err := supervisor.Open(ctx, supervisor.Options{
		EgressProxy: func(name, path string) (io.Closer, error) {
			return egress.Listen(path, egress.Options{
				Rules: func() egress.Rules {
					if h := self.Load(); h != nil {
						return h.egressRules(name)
					}
					return egress.Rules{}
				},
				HostPorts: opts.Sandbox.HostPorts,
				OnRefused: func(reason string) {
					if h := self.Load(); h != nil && opts.OnEgressRefused != nil {
						opts.OnEgressRefused(h.pluginID(name), reason)
					}
				},
				Logger: opts.Logger.Named("egress").With("plugin", name),
			})
		},
		PluginDir:        opts.PluginDir,
		CallTimeout:      opts.CallTimeout,
		StartTimeout:     opts.StartTimeout,
		StartConcurrency: opts.StartConcurrency,
		MaxInFlight:      opts.MaxInFlight,
		Watch:            opts.Watch,
		SettleTime:       opts.SettleTime,
		Logger:           opts.Logger,
		OnRestart:        opts.OnRestart,
		OnRescan:         opts.OnRescan,
		Sandbox:          opts.Sandbox,
		OnDemand:         opts.OnDemand,
		Tracing:          opts.Tracing,
		Vet: func(ctx context.Context, id string, proc *process.Process) error {
			if h := self.Load(); h != nil {
				return h.vetReplacement(ctx, id, proc)
			}
			return nil
		},
		Serialize: func() func() {
			if h := self.Load(); h != nil {
				h.reconfig <- struct{}{}
				return func() { <-h.reconfig }
			}
			return func() {}
		},
	})
	if err != nil {
		return nil, err
	}
	h := &Host{Supervisor: sup, opts: opts, log: opts.Logger, instances: map[string]*instance{}, now: time.Now, reconfig: make(chan struct{}, 1)}
	self.Store(h)
	return h, nil
}

// Close stops every plugin and waits for them to exit, and for the releases of
// instances still in flight.
func (h *Host) Close() error {
	err := h.Supervisor.Close()
	h.releasing.Wait()
	return err
}
