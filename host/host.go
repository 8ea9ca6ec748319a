// Package host is the idplug runtime: it finds connector plugins in a folder, runs
// each as its own process, and serves configured connector instances through them.
// The idplug command (host/cmd/idplug) is a thin layer over this package; an
// identity server written in Go can embed it directly.
package host

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/idplug/idplug/host/catalog"
	"github.com/idplug/idplug/host/process"
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
	// Logger receives the host's and the plugins' log lines.
	Logger hclog.Logger
	// OnRestart is called with the plugin's name each time a dead plugin is restarted.
	OnRestart func(plugin string)
	// OnCall is called after every call to a connector instance, for metrics.
	OnCall func(call CallInfo)
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
	scan      *catalog.Result

	plugins map[string]*process.Process // by metadata id
	failed  []catalog.Entry             // plugins that passed the checks but did not start

	mu         sync.RWMutex
	connectors map[string]*connector // configured instances by id
	order      []string              // instance ids in configuration order
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
	scan, err := catalog.Scan(opts.PluginDir)
	if err != nil {
		return nil, err
	}
	for _, e := range scan.Ignored {
		opts.Logger.Debug("ignoring file in plugin folder", "file", e.File, "reason", e.Reason)
	}
	for _, e := range scan.Refused {
		opts.Logger.Error("refusing plugin", "file", e.File, "reason", e.Reason)
	}
	socketDir, err := makeSocketDir()
	if err != nil {
		return nil, err
	}
	h := &Host{
		opts:       opts,
		log:        opts.Logger,
		socketDir:  socketDir,
		scan:       scan,
		plugins:    map[string]*process.Process{},
		connectors: map[string]*connector{},
	}
	h.startAll(ctx, scan.Plugins)
	return h, nil
}

// makeSocketDir makes a private folder for the plugins' Unix sockets. Socket paths are
// limited to about 100 bytes, and TMPDIR can be long, so it falls back to /tmp.
func makeSocketDir() (string, error) {
	base := os.TempDir()
	if len(base) > 40 {
		base = "/tmp"
	}
	dir, err := os.MkdirTemp(base, "idplug-")
	if err != nil {
		return "", fmt.Errorf("socket folder: %w", err)
	}
	return dir, nil
}

func (h *Host) startAll(ctx context.Context, found []catalog.Plugin) {
	type result struct {
		plugin catalog.Plugin
		proc   *process.Process
		err    error
	}
	results := make([]result, len(found))
	limit := h.opts.StartConcurrency
	if limit <= 0 {
		limit = len(found)
	}
	sem := make(chan struct{}, max(limit, 1))
	var wg sync.WaitGroup
	for i, pl := range found {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			name := pl.Name
			proc, err := process.Start(ctx, name, pl.Path, pl.Checksum, process.Options{
				SocketDir:    h.socketDir,
				StartTimeout: h.opts.StartTimeout,
				CallTimeout:  h.opts.CallTimeout,
				Logger:       h.log.Named("plugin"),
				OnRestart: func() {
					if h.opts.OnRestart != nil {
						h.opts.OnRestart(name)
					}
				},
			})
			results[i] = result{pl, proc, err}
		}()
	}
	wg.Wait()

	byID := map[string][]result{}
	for _, r := range results {
		if r.err != nil {
			h.log.Error("plugin failed to start", "file", r.plugin.File, "error", r.err)
			h.failed = append(h.failed, catalog.Entry{File: r.plugin.File, Reason: r.err.Error()})
			continue
		}
		id := r.proc.Metadata().ID
		byID[id] = append(byID[id], r)
	}
	for id, rs := range byID {
		if len(rs) == 1 {
			h.plugins[id] = rs[0].proc
			h.log.Info("plugin ready", "id", id, "file", rs[0].plugin.File, "pid", rs[0].proc.PID())
			continue
		}
		// Two binaries claiming one id: running either would be a guess.
		files := make([]string, len(rs))
		for i, r := range rs {
			files[i] = r.plugin.File
		}
		sort.Strings(files)
		for _, r := range rs {
			reason := fmt.Sprintf("plugin id %q is claimed by more than one file: %v", id, files)
			h.log.Error("refusing plugin", "file", r.plugin.File, "reason", reason)
			h.failed = append(h.failed, catalog.Entry{File: r.plugin.File, Reason: reason})
			r.proc.Close()
		}
	}
	sort.Slice(h.failed, func(i, j int) bool { return h.failed[i].File < h.failed[j].File })
}

// PluginInfo describes a running plugin.
type PluginInfo struct {
	File string
	Path string
	PID  int
	Proc *process.Process
}

// Plugins lists the running plugins, sorted by id.
func (h *Host) Plugins() []PluginInfo {
	out := make([]PluginInfo, 0, len(h.plugins))
	for _, p := range h.plugins {
		out = append(out, PluginInfo{File: catalog.Prefix + p.Name(), Path: p.Path(), PID: p.PID(), Proc: p})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Proc.Metadata().ID < out[j].Proc.Metadata().ID })
	return out
}

// Plugin returns the plugin whose metadata id is id.
func (h *Host) Plugin(id string) (*process.Process, bool) {
	p, ok := h.plugins[id]
	return p, ok
}

// Refused lists the files named like plugins that do not run, and why: failed checks,
// failed starts, duplicate ids.
func (h *Host) Refused() []catalog.Entry {
	out := append(append([]catalog.Entry{}, h.scan.Refused...), h.failed...)
	sort.Slice(out, func(i, j int) bool { return out[i].File < out[j].File })
	return out
}

// Ignored lists the files of the plugin folder that are not plugins.
func (h *Host) Ignored() []catalog.Entry { return h.scan.Ignored }

// Close stops every plugin and waits for them to exit.
func (h *Host) Close() error {
	var wg sync.WaitGroup
	for _, p := range h.plugins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.Close()
		}()
	}
	wg.Wait()
	return errors.Join(os.RemoveAll(h.socketDir))
}
