package supervisor

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/idplug/idplug/host/catalog"
)

// watcher rescans the plugin folder once it has stopped changing for SettleTime
// after a change, so a binary that is still being copied in is left alone until the
// copy ends. (A `mv` into the folder is atomic and is picked up at once.)
type watcher struct {
	fs   *fsnotify.Watcher
	done chan struct{}
	wg   sync.WaitGroup
}

func (s *Supervisor) watch() (*watcher, error) {
	dir, err := filepath.EvalSymlinks(s.opts.PluginDir)
	if err != nil {
		return nil, err
	}
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	if err := fsw.Add(dir); err != nil {
		_ = fsw.Close()
		return nil, err
	}
	w := &watcher{fs: fsw, done: make(chan struct{})}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		s.follow(w)
	}()
	s.log.Info("watching the plugin folder", "dir", dir)
	return w, nil
}

func (w *watcher) stop() {
	close(w.done)
	_ = w.fs.Close()
	w.wg.Wait()
}

// follow turns bursts of folder events into one rescan each.
func (s *Supervisor) follow(w *watcher) {
	settle := time.NewTimer(time.Hour)
	settle.Stop()
	for {
		select {
		case <-w.done:
			settle.Stop()
			return
		case ev, ok := <-w.fs.Events:
			if !ok {
				return
			}
			name := filepath.Base(ev.Name)
			if strings.HasPrefix(name, catalog.Prefix) || name == catalog.SumsFile {
				settle.Reset(s.opts.SettleTime)
			}
		case err, ok := <-w.fs.Errors:
			if !ok {
				return
			}
			// An overflow loses events: a rescan sees the folder as it is anyway.
			s.log.Warn("watching the plugin folder", "error", err)
			settle.Reset(s.opts.SettleTime)
		case <-settle.C:
			ctx, cancel := context.WithTimeout(context.Background(), s.opts.StartTimeout+s.opts.CallTimeout)
			err := s.Rescan(ctx)
			if err != nil {
				s.log.Error("rescanning the plugin folder", "error", err)
			}
			cancel()
			if s.opts.OnRescan != nil {
				s.opts.OnRescan(err)
			}
		}
	}
}
