// Package supervisor runs the plugins of one plugin folder: it scans the folder
// (host/catalog), starts each plugin that passes the checks as its own process
// (host/process), keeps the running ones by metadata id, follows the folder for
// new, replaced and removed binaries, and owns the sockets folder the processes
// talk through. What the plugins serve (configured connector instances) is the
// host package's business; the supervisor knows only plugins.
package supervisor

import (
	"context"
	"errors"
	"io"
	"os"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/idplug/idplug/host/catalog"
	"github.com/idplug/idplug/host/process"
	"github.com/idplug/idplug/host/sandbox"
	"github.com/idplug/idplug/host/tracing"
	"github.com/idplug/idplug/sdk"
)

// Options configure a Supervisor.
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
	// Watch follows the plugin folder: new binaries start, replaced ones are
	// swapped without dropping calls, removed ones are drained and stopped.
	Watch bool
	// SettleTime is how long the folder must stay unchanged before a change is
	// acted on, so a binary still being copied is not started (default 500ms).
	SettleTime time.Duration
	// Logger receives the supervisor's and the plugins' log lines.
	Logger hclog.Logger
	// OnRestart is called with the plugin's metadata id each time a dead plugin
	// is restarted.
	OnRestart func(plugin string)
	// OnRescan is called after each scan of the plugin folder the watcher made.
	OnRescan func(error)
	// Sandbox is how plugins are confined (see host/sandbox); the zero value is
	// mode auto: everything the kernel supports.
	Sandbox sandbox.Policy
	// OnDemand runs a plugin only while it is wanted (see Keep): a scan starts
	// each new plugin file once to read its metadata, then stops it. Without
	// it, every plugin found keeps running.
	OnDemand bool
	// EgressProxy starts the egress proxy of a process of the plugin named
	// name (see process.Options.EgressProxy).
	EgressProxy func(name, socketPath string) (io.Closer, error)
	// Tracing, when set, traces calls to plugins and exports their spans.
	Tracing *tracing.Tracing
	// Vet, when set, checks the new process of a replaced plugin file before
	// it takes the old one's place (the host: it accepts the configuration
	// of every connector the plugin serves). An error refuses it, as a
	// failed start does: the old process keeps serving.
	Vet func(ctx context.Context, id string, proc *process.Process) error
	// Serialize, when set, is held around each rescan, taken before the
	// supervisor's own locks: the host holds it through a reconfiguration
	// too, so that a replacement is checked against the configuration it
	// will serve, not one a reload replaces meanwhile.
	Serialize func() (unlock func())
}

// Supervisor runs the plugins of one plugin folder.
type Supervisor struct {
	opts      Options
	log       hclog.Logger
	socketDir string
	sandbox   sandbox.Report
	connect   *sandbox.ConnectRules // shared by every launch; nil when none is needed

	reconcile     scanLock // one folder scan or start at a time
	mu            sync.RWMutex
	plugins       map[string]*loaded // known plugins by metadata id, running or idle
	files         map[string]*loaded // the same, by file name
	refused       []catalog.Entry    // files that do not run, and why
	ignored       []catalog.Entry
	support       []catalog.Entry
	failed        map[string]stamp // files that failed to start, as they were then
	failedReasons map[string]string
	draining      sync.WaitGroup
	// wanted are the ids Keep was last given; nil keeps every plugin running
	// (until Keep is called, or always without Options.OnDemand).
	wanted map[string]bool

	watcher *watcher
}

// scanLock lets one folder scan, or one start on demand, run at a time. A
// start on demand waits for it only as long as its caller does: a plugin that
// is slow to start holds it for up to its start timeout, and a sign-in for
// another plugin then answers at its own deadline rather than past it.
type scanLock chan struct{}

func (l scanLock) Lock()   { l <- struct{}{} }
func (l scanLock) Unlock() { <-l }

// LockContext takes the lock, or gives up when ctx ends.
func (l scanLock) LockContext(ctx context.Context) error {
	select {
	case l <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// loaded is a plugin that passed its checks and started once: its file, the
// metadata it reported, and its process while it runs (nil while idle).
type loaded struct {
	proc  *process.Process
	meta  sdk.Metadata
	file  catalog.Plugin
	stamp stamp
	// The last failed start on demand, and how many failed in a row: the
	// next is not tried before the backoff has passed (startBackoff).
	failedAt time.Time
	failure  error
	failures int
}

// Open scans the plugin folder and starts every plugin that passes the checks, in
// parallel. A plugin that fails is reported by Refused and does not stop the others;
// Open fails only when the folder itself cannot be used.
func Open(ctx context.Context, opts Options) (*Supervisor, error) {
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
	s := &Supervisor{
		opts:          opts,
		log:           opts.Logger,
		socketDir:     socketDir,
		sandbox:       report,
		connect:       sandbox.NewConnectRules(opts.Sandbox, report),
		reconcile:     make(scanLock, 1),
		plugins:       map[string]*loaded{},
		files:         map[string]*loaded{},
		failed:        map[string]stamp{},
		failedReasons: map[string]string{},
	}
	if opts.OnDemand {
		s.wanted = map[string]bool{}
	}
	if err := s.Rescan(ctx); err != nil {
		_ = s.connect.Close()
		_ = os.RemoveAll(socketDir)
		return nil, err
	}
	if opts.Watch {
		if s.watcher, err = s.watch(); err != nil {
			_ = s.Close()
			return nil, err
		}
	}
	return s, nil
}

// startPlugin launches one plugin file.
func (s *Supervisor) startPlugin(ctx context.Context, pl catalog.Plugin) (*process.Process, error) {
	var restarts restartNotice
	proc, err := process.Start(ctx, pl.Name, pl.Path, pl.Checksum, process.Options{
		SocketDir:      s.socketDir,
		PluginDir:      pl.Dir,
		Sandbox:        s.opts.Sandbox,
		SandboxReport:  s.sandbox,
		SandboxConnect: s.connect,
		StartTimeout:   s.opts.StartTimeout,
		CallTimeout:    s.opts.CallTimeout,
		MaxInFlight:    s.opts.MaxInFlight,
		Logger:         s.log.Named("plugin"),
		OnRestart:      func() { restarts.restarted(s.opts.OnRestart) },
		EgressProxy:    s.egressProxy(pl.Name),
		Tracing:        s.opts.Tracing,
	})
	if err != nil {
		return nil, err
	}
	restarts.started(proc.Metadata().ID, s.opts.OnRestart)
	return proc, nil
}

// egressProxy is Options.EgressProxy for the plugin named name, or nil.
func (s *Supervisor) egressProxy(name string) func(string) (io.Closer, error) {
	if s.opts.EgressProxy == nil {
		return nil
	}
	return func(path string) (io.Closer, error) { return s.opts.EgressProxy(name, path) }
}

// restartNotice tells Options.OnRestart of a plugin's restarts by its metadata
// id, the name every other place uses for it (not the file's name). The id is
// known once the first start returns; a restart before that waits for it.
type restartNotice struct {
	mu      sync.Mutex
	id      string
	pending int
}

func (r *restartNotice) restarted(notify func(string)) {
	r.mu.Lock()
	id := r.id
	if id == "" {
		r.pending++
	}
	r.mu.Unlock()
	if id != "" && notify != nil {
		notify(id)
	}
}

func (r *restartNotice) started(id string, notify func(string)) {
	r.mu.Lock()
	r.id = id
	n := r.pending
	r.pending = 0
	r.mu.Unlock()
	for range n {
		if notify != nil {
			notify(id)
		}
	}
}

// PluginInfo describes a plugin.
type PluginInfo struct {
	File string
	Path string
	// Metadata is what the plugin reported when it last started.
	Metadata sdk.Metadata
	// PID, State and Proc are set while the plugin runs.
	PID   int
	State process.State
	Proc  *process.Process
}

// Plugins lists the running plugins, sorted by id.
func (s *Supervisor) Plugins() []PluginInfo {
	return s.list(true)
}

// Catalog lists every plugin that passed its checks, running or idle, sorted by id.
func (s *Supervisor) Catalog() []PluginInfo {
	return s.list(false)
}

func (s *Supervisor) list(runningOnly bool) []PluginInfo {
	s.mu.RLock()
	out := make([]PluginInfo, 0, len(s.plugins))
	for _, l := range s.plugins {
		if l.proc == nil && runningOnly {
			continue
		}
		out = append(out, PluginInfo{File: l.file.File, Path: l.file.Path, Metadata: l.meta, Proc: l.proc})
	}
	s.mu.RUnlock()
	for i := range out {
		if out[i].Proc != nil {
			out[i].PID, out[i].State = out[i].Proc.PID(), out[i].Proc.State()
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Metadata.ID < out[j].Metadata.ID })
	return out
}

// Plugin returns the running plugin whose metadata id is id.
func (s *Supervisor) Plugin(id string) (*process.Process, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	l, ok := s.plugins[id]
	if !ok || l.proc == nil {
		return nil, false
	}
	return l.proc, true
}

// Metadata returns the metadata of the plugin whose id is id, running or idle.
func (s *Supervisor) Metadata(id string) (sdk.Metadata, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	l, ok := s.plugins[id]
	if !ok {
		return sdk.Metadata{}, false
	}
	return l.meta, true
}

// PluginIDs lists the metadata ids of the known plugins, running or idle, sorted.
func (s *Supervisor) PluginIDs() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ids := make([]string, 0, len(s.plugins))
	for id := range s.plugins {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Refused lists the files named like plugins that do not run, and why: failed checks,
// failed starts, duplicate ids.
func (s *Supervisor) Refused() []catalog.Entry {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append([]catalog.Entry{}, s.refused...)
}

// Ignored lists the files of the plugin folder that are not plugins.
func (s *Supervisor) Ignored() []catalog.Entry {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append([]catalog.Entry{}, s.ignored...)
}

// Support lists the support folders of plugin families (the Logto bundle) and
// their digest lists.
func (s *Supervisor) Support() []catalog.Entry {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append([]catalog.Entry{}, s.support...)
}

// Sandbox says how plugins are confined on this kernel.
func (s *Supervisor) Sandbox() sandbox.Report { return s.sandbox }

// Close stops watching the folder, stops every plugin and waits for them to exit.
func (s *Supervisor) Close() error {
	if s.watcher != nil {
		s.watcher.stop()
	}
	s.reconcile.Lock() // no scan may start plugins behind our back
	defer s.reconcile.Unlock()
	s.mu.Lock()
	all := s.plugins
	s.plugins, s.files = map[string]*loaded{}, map[string]*loaded{}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, l := range all {
		if l.proc == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.proc.Close()
		}()
	}
	wg.Wait()
	s.draining.Wait()
	return errors.Join(s.connect.Close(), os.RemoveAll(s.socketDir))
}
