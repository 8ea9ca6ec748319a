package supervisor

import (
	"context"
	"fmt"
	"os"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/idplug/idplug/host/catalog"
	"github.com/idplug/idplug/host/process"
)

// stamp identifies one version of a plugin file: a copy, a rebuild or a `mv` over it
// changes it, and so does a new digest in SHA256SUMS.
type stamp struct {
	dev, ino uint64
	size     int64
	mtime    int64
	checksum string
}

func stampOf(pl catalog.Plugin) (stamp, error) {
	info, err := os.Stat(pl.Path)
	if err != nil {
		return stamp{}, err
	}
	s := stamp{size: info.Size(), mtime: info.ModTime().UnixNano(), checksum: string(pl.Checksum)}
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		s.dev, s.ino = uint64(st.Dev), st.Ino
	}
	return s, nil
}

// Rescan brings the running plugins in line with the plugin folder: it starts new
// files, replaces changed ones (the old process serves until the new one is ready,
// then drains), and drains and stops removed ones. A replacement that fails to start
// leaves the old plugin serving. Open calls it once; with Options.Watch the host calls
// it whenever the folder settles after a change.
func (s *Supervisor) Rescan(ctx context.Context) error { return s.rescan(ctx, 0) }

// rescan is Rescan; a within above zero bounds its work from when it holds
// its locks: a rescan that waited out a reload (Serialize) on a deadline set
// before had no time left to start and check a replacement, and the failure,
// recorded, kept the good file from being tried again until it changed.
func (s *Supervisor) rescan(ctx context.Context, within time.Duration) error {
	if s.opts.Serialize != nil {
		defer s.opts.Serialize()()
	}
	s.reconcile.Lock()
	defer s.reconcile.Unlock()
	if within > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, within)
		defer cancel()
	}
	scan, err := catalog.Scan(s.opts.PluginDir)
	if err != nil {
		return err
	}
	for _, e := range scan.Ignored {
		s.log.Debug("ignoring file in plugin folder", "file", e.File, "reason", e.Reason)
	}
	for _, e := range scan.Refused {
		s.log.Error("refusing plugin", "file", e.File, "reason", e.Reason)
	}

	s.mu.RLock()
	var toStart []catalog.Plugin
	stamps := map[string]stamp{}
	present := map[string]bool{}
	refused := append([]catalog.Entry{}, scan.Refused...)
	for _, pl := range scan.Plugins {
		present[pl.File] = true
		st, err := stampOf(pl)
		if err != nil {
			refused = append(refused, catalog.Entry{File: pl.File, Reason: err.Error()})
			continue
		}
		stamps[pl.File] = st
		if cur, ok := s.files[pl.File]; ok && cur.stamp == st {
			continue // unchanged and running
		}
		if prev, ok := s.failed[pl.File]; ok && prev == st {
			refused = append(refused, s.failedEntry(pl.File))
			continue // failed before and unchanged since: do not retry on every event
		}
		toStart = append(toStart, pl)
	}
	var removed []*loaded
	for file, l := range s.files {
		if !present[file] {
			removed = append(removed, l)
		}
	}
	s.mu.RUnlock()

	results := s.startMany(ctx, toStart)
	s.vet(ctx, results)

	s.mu.Lock()
	failures := map[string]string{}
	for _, r := range results {
		if r.err != nil {
			failures[r.plugin.File] = r.err.Error()
			if ctx.Err() == nil {
				// A start or check cut short by the rescan's deadline says
				// nothing of the file: the next rescan tries it again.
				s.failed[r.plugin.File] = stamps[r.plugin.File]
			}
			if old := s.files[r.plugin.File]; old != nil {
				s.log.Error("the replacement plugin did not start or was refused; the old one keeps serving", "file", r.plugin.File, "error", r.err)
			} else {
				s.log.Error("plugin failed to start", "file", r.plugin.File, "error", r.err)
			}
		}
	}
	s.register(results, stamps, failures)
	for _, l := range removed {
		s.log.Info("plugin file removed; draining the plugin", "file", l.file.File)
		s.unregisterLocked(l)
	}
	for file, reason := range failures {
		refused = append(refused, catalog.Entry{File: file, Reason: reason})
		s.failedReasons[file] = reason
	}
	for file := range s.failed {
		if !present[file] {
			delete(s.failed, file)
			delete(s.failedReasons, file)
		}
	}
	sort.Slice(refused, func(i, j int) bool { return refused[i].File < refused[j].File })
	s.refused, s.ignored, s.support = refused, scan.Ignored, scan.Support
	s.mu.Unlock()
	return nil
}

// vet refuses a replacement that Options.Vet refuses, before it is put in
// service: a new version that refuses the running configuration (a key it
// now requires) had taken over, and every sign-in of its connectors failed,
// with the plugin shown running and idplug ready.
func (s *Supervisor) vet(ctx context.Context, results []startResult) {
	if s.opts.Vet == nil {
		return
	}
	for i, r := range results {
		if r.err != nil {
			continue
		}
		s.mu.RLock()
		replacing := s.files[r.plugin.File] != nil
		s.mu.RUnlock()
		if !replacing {
			continue
		}
		if err := s.opts.Vet(ctx, r.proc.Metadata().ID, r.proc); err != nil {
			s.drain(r.proc)
			results[i] = startResult{plugin: r.plugin, err: fmt.Errorf("it refuses the running configuration: %w", err)}
		}
	}
}

type startResult struct {
	plugin catalog.Plugin
	proc   *process.Process
	err    error
}

// startMany starts plugins in parallel, at most Options.StartConcurrency at once.
func (s *Supervisor) startMany(ctx context.Context, found []catalog.Plugin) []startResult {
	results := make([]startResult, len(found))
	limit := s.opts.StartConcurrency
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
			proc, err := s.startPlugin(ctx, pl)
			results[i] = startResult{pl, proc, err}
		}()
	}
	wg.Wait()
	return results
}

// register puts freshly started plugins in service. Of new files claiming one id,
// the one named for it (idplug-connector-ID) serves and the others are refused, so a
// copy or an impostor beside a plugin cannot take it down; with no file named for the
// id, all are refused. A new file claiming the id of another running file is refused
// and the running one keeps serving. s.mu must be held.
func (s *Supervisor) register(results []startResult, stamps map[string]stamp, failures map[string]string) {
	byID := map[string][]startResult{}
	for _, r := range results {
		if r.err == nil {
			byID[r.proc.Metadata().ID] = append(byID[r.proc.Metadata().ID], r)
		}
	}
	refuse := func(r startResult, reason string) {
		s.log.Error("refusing plugin", "file", r.plugin.File, "reason", reason)
		failures[r.plugin.File] = reason
		s.failed[r.plugin.File] = stamps[r.plugin.File]
		s.drain(r.proc)
	}
	for id, rs := range byID {
		if len(rs) > 1 {
			files := make([]string, len(rs))
			owner := -1
			for i, r := range rs {
				files[i] = r.plugin.File
				if r.plugin.File == catalog.Prefix+id {
					owner = i
				}
			}
			sort.Strings(files)
			for i, r := range rs {
				switch {
				case owner < 0:
					refuse(r, fmt.Sprintf("plugin id %q is claimed by more than one file: %v; none is named %s%s, so none serves", id, files, catalog.Prefix, id))
				case i != owner:
					refuse(r, fmt.Sprintf("plugin id %q belongs to %s, the file named for it; this file claims it too", id, rs[owner].plugin.File))
				}
			}
			if owner < 0 {
				continue
			}
			rs = rs[owner : owner+1]
		}
		r := rs[0]
		old := s.files[r.plugin.File]
		if other, ok := s.plugins[id]; ok && other != old {
			refuse(r, fmt.Sprintf("plugin id %q is already served by %s", id, other.file.File))
			continue
		}
		if old != nil {
			s.log.Info("plugin replaced; draining the old process", "file", r.plugin.File, "id", id, "pid", r.proc.PID())
			s.unregisterLocked(old)
		} else {
			s.log.Info("plugin ready", "id", id, "file", r.plugin.File, "pid", r.proc.PID())
		}
		l := &loaded{proc: r.proc, meta: r.proc.Metadata(), file: r.plugin, stamp: stamps[r.plugin.File]}
		s.plugins[id], s.files[r.plugin.File] = l, l
		if s.wanted != nil && !s.wanted[id] {
			// Started to read its metadata; it runs again when a connector needs it.
			s.log.Debug("plugin idle until a connector needs it", "id", id, "file", r.plugin.File)
			s.drain(l.proc)
			l.proc = nil
		}
		delete(s.failed, r.plugin.File)
		delete(s.failedReasons, r.plugin.File)
	}
}

// unregisterLocked takes a plugin out of service and drains it. s.mu must be held.
func (s *Supervisor) unregisterLocked(l *loaded) {
	if s.plugins[l.meta.ID] == l {
		delete(s.plugins, l.meta.ID)
	}
	if s.files[l.file.File] == l {
		delete(s.files, l.file.File)
	}
	if l.proc != nil {
		s.drain(l.proc)
	}
}

// drain stops p once its calls in flight finish, or after the call deadline.
func (s *Supervisor) drain(p *process.Process) {
	s.draining.Add(1)
	go func() {
		defer s.draining.Done()
		ctx, cancel := context.WithTimeout(context.Background(), s.opts.CallTimeout)
		defer cancel()
		p.Drain(ctx)
	}()
}

func (s *Supervisor) failedEntry(file string) catalog.Entry {
	return catalog.Entry{File: file, Reason: s.failedReasons[file]}
}
