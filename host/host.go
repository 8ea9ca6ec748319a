// Package host is the idplug runtime: it finds connector plugins in a folder, runs
// each as its own process, and serves configured connector instances through them.
// The idplug command (host/cmd/idplug) is a thin layer over this package; an
// identity server written in Go can embed it directly.
package host

import (
	"context"
	"errors"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/idplug/idplug/host/catalog"
	"github.com/idplug/idplug/host/process"
	"github.com/idplug/idplug/host/sandbox"
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
	// OnRestart is called with the plugin's name each time a dead plugin is restarted.
	OnRestart func(plugin string)
	// OnCall is called after every call to a connector instance, for metrics.
	OnCall func(call CallInfo)
	// OnRescan is called after each scan of the plugin folder the watcher made.
	OnRescan func(error)
	// Sandbox is how plugins are confined (see host/sandbox); the zero value is
	// mode auto: everything the kernel supports.
	Sandbox sandbox.Policy
}

// CallInfo describes a finished call to a connector instance.
type CallInfo struct {
	Connector string
	Plugin    string
	// RPC is the call's name: AuthorizationURI, UserInfo or RefreshTokens.
	RPC      string
	Duration time.Duration
	// Err is nil on success; otherwise usually an *sdk.Error.
	Err error
}

// Host runs the plugins of one plugin folder.
type Host struct {
	opts      Options
	log       hclog.Logger
	socketDir string
	sandbox   sandbox.Report

	reconcile     sync.Mutex // one folder scan at a time
	mu            sync.RWMutex
	plugins       map[string]*loaded // running plugins by metadata id
	files         map[string]*loaded // the same, by file name
	refused       []catalog.Entry    // files that do not run, and why
	ignored       []catalog.Entry
	failed        map[string]stamp // files that failed to start, as they were then
	failedReasons map[string]string
	draining      sync.WaitGroup
	releasing     sync.WaitGroup // ReleaseInstances calls in the background

	connectors map[string]*connector // configured instances by id
	order      []string              // instance ids in configuration order

	watcher *watcher
}

// loaded is a running plugin and the file it runs from.
type loaded struct {
	proc  *process.Process
	file  catalog.Plugin
	stamp stamp
}

// Open scans the plugin folder and starts every plugin that passes the checks, in
// parallel. A plugin that fails is reported by Refused and does not stop the others;
// Open fails only when the folder itself cannot be used.
func Open(ctx context.Context, opts Options) (*Host, error) {
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = 10 * time.Second
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 10 * time.Second
	}
	if opts.SettleTime <= 0 {
		opts.SettleTime = 500 * time.Millisecond
	}
	report := sandbox.Assess(opts.Sandbox, sandbox.Detect(opts.Sandbox))
	switch {
	case report.Refusal() != "":
		opts.Logger.Error("plugins cannot start: "+report.Refusal(), "mode", report.Mode)
	case len(report.Missing) > 0:
		opts.Logger.Warn("plugins run with a partial sandbox: this kernel lacks some restrictions",
			"missing", report.Missing, "landlock_abi", report.LandlockABI)
	case report.Mode == sandbox.ModeOff:
		opts.Logger.Warn("plugins run without a sandbox (sandbox mode off)")
	}
	removeStaleSocketDirs(opts.Logger)
	socketDir, err := makeSocketDir(opts.Sandbox.User != nil)
	if err != nil {
		return nil, err
	}
	h := &Host{
		opts:          opts,
		log:           opts.Logger,
		socketDir:     socketDir,
		sandbox:       report,
		plugins:       map[string]*loaded{},
		files:         map[string]*loaded{},
		failed:        map[string]stamp{},
		failedReasons: map[string]string{},
		connectors:    map[string]*connector{},
	}
	if err := h.Rescan(ctx); err != nil {
		_ = os.RemoveAll(socketDir)
		return nil, err
	}
	if opts.Watch {
		if h.watcher, err = h.watch(); err != nil {
			_ = h.Close()
			return nil, err
		}
	}
	return h, nil
}

// startPlugin launches one plugin file.
func (h *Host) startPlugin(ctx context.Context, pl catalog.Plugin) (*process.Process, error) {
	name := pl.Name
	return process.Start(ctx, name, pl.Path, pl.Checksum, process.Options{
		SocketDir:     h.socketDir,
		PluginDir:     pl.Dir,
		Sandbox:       h.opts.Sandbox,
		SandboxReport: h.sandbox,
		StartTimeout:  h.opts.StartTimeout,
		CallTimeout:   h.opts.CallTimeout,
		MaxInFlight:   h.opts.MaxInFlight,
		Logger:        h.log.Named("plugin"),
		OnRestart: func() {
			if h.opts.OnRestart != nil {
				h.opts.OnRestart(name)
			}
		},
	})
}

// PluginInfo describes a running plugin.
type PluginInfo struct {
	File  string
	Path  string
	PID   int
	State process.State
	Proc  *process.Process
}

// Plugins lists the running plugins, sorted by id.
func (h *Host) Plugins() []PluginInfo {
	h.mu.RLock()
	out := make([]PluginInfo, 0, len(h.plugins))
	for _, l := range h.plugins {
		out = append(out, PluginInfo{File: l.file.File, Path: l.file.Path, Proc: l.proc})
	}
	h.mu.RUnlock()
	for i := range out {
		out[i].PID, out[i].State = out[i].Proc.PID(), out[i].Proc.State()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Proc.Metadata().ID < out[j].Proc.Metadata().ID })
	return out
}

// Plugin returns the running plugin whose metadata id is id.
func (h *Host) Plugin(id string) (*process.Process, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	l, ok := h.plugins[id]
	if !ok {
		return nil, false
	}
	return l.proc, true
}

// Refused lists the files named like plugins that do not run, and why: failed checks,
// failed starts, duplicate ids.
func (h *Host) Refused() []catalog.Entry {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return append([]catalog.Entry{}, h.refused...)
}

// Ignored lists the files of the plugin folder that are not plugins.
func (h *Host) Ignored() []catalog.Entry {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return append([]catalog.Entry{}, h.ignored...)
}

// Close stops watching the folder, stops every plugin and waits for them to exit.
func (h *Host) Close() error {
	if h.watcher != nil {
		h.watcher.stop()
	}
	h.reconcile.Lock() // no scan may start plugins behind our back
	defer h.reconcile.Unlock()
	h.mu.Lock()
	all := h.plugins
	h.plugins, h.files = map[string]*loaded{}, map[string]*loaded{}
	h.mu.Unlock()
	var wg sync.WaitGroup
	for _, l := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.proc.Close()
		}()
	}
	wg.Wait()
	h.draining.Wait()
	h.releasing.Wait()
	return errors.Join(os.RemoveAll(h.socketDir))
}
