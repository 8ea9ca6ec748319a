package supervisor

import (
	"context"
	"os"
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
//
// It watches the folder that holds plugin_dir too: a plugin folder replaced
// whole (renamed away and another put in its place, removed and made again,
// or a link on its path pointed at another folder) is followed at its path,
// where every rescan reads; watching the folder alone had kept following the
// one that went away, and missed every change to the new one.
type watcher struct {
	fs   *fsnotify.Watcher
	path string      // plugin_dir, absolute, as configured
	dir  string      // the folder watched: path with its links resolved; "" while there is none
	at   os.FileInfo // dir when it was watched
	gone bool        // said that the folder is gone
	done chan struct{}
	wg   sync.WaitGroup
}

func (s *Supervisor) watch() (*watcher, error) {
	path, err := filepath.Abs(s.opts.PluginDir)
	if err != nil {
		return nil, err
	}
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	w := &watcher{fs: fsw, path: path, done: make(chan struct{})}
	if err := w.watchFolder(); err != nil {
		_ = fsw.Close()
		return nil, err
	}
	if err := fsw.Add(filepath.Dir(path)); err != nil {
		s.log.Warn("cannot watch the folder that holds the plugin folder: a plugin folder replaced whole is not followed until idplug restarts",
			"dir", filepath.Dir(path), "error", err)
	}
	s.log.Info("watching the plugin folder", "dir", w.dir)
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		s.follow(w)
	}()
	return w, nil
}

// watchFolder watches the folder at w.path, in place of the one watched before.
func (w *watcher) watchFolder() error {
	if w.dir != "" {
		_ = w.fs.Remove(w.dir) // already gone with a removed folder
		w.dir, w.at = "", nil
	}
	dir, err := filepath.EvalSymlinks(w.path)
	if err != nil {
		return err
	}
	info, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if err := w.fs.Add(dir); err != nil {
		return err
	}
	w.dir, w.at = dir, info
	return nil
}

// replaced says whether the folder at w.path is no longer the one watched.
func (w *watcher) replaced() bool {
	dir, err := filepath.EvalSymlinks(w.path)
	if err != nil || w.dir == "" || dir != w.dir {
		return true
	}
	info, err := os.Stat(dir)
	return err != nil || !os.SameFile(info, w.at)
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
			switch {
			case ev.Name == w.path || ev.Name == w.dir:
				// The plugin folder itself: renamed, removed, made, or
				// its link changed.
				if w.replaced() {
					s.refollow(w)
				}
				settle.Reset(s.opts.SettleTime)
			case w.dir != "" && filepath.Dir(ev.Name) == w.dir:
				name := filepath.Base(ev.Name)
				if strings.HasPrefix(name, catalog.Prefix) || name == catalog.SumsFile {
					settle.Reset(s.opts.SettleTime)
				}
			}
		case err, ok := <-w.fs.Errors:
			if !ok {
				return
			}
			// An overflow loses events: a rescan sees the folder as it is anyway.
			s.log.Warn("watching the plugin folder", "error", err)
			settle.Reset(s.opts.SettleTime)
		case <-settle.C:
			// A folder replaced between its events and now is followed too.
			if w.replaced() {
				s.refollow(w)
			}
			err := s.rescan(context.Background(), s.opts.StartTimeout+s.opts.CallTimeout)
			if err != nil {
				s.log.Error("rescanning the plugin folder", "error", err)
			}
			if s.opts.OnRescan != nil {
				s.opts.OnRescan(err)
			}
		}
	}
}

// refollow watches the folder now at the plugin folder's path; while there is
// none, the running plugins keep serving, and the folder's return is seen in
// the folder that holds it.
func (s *Supervisor) refollow(w *watcher) {
	if err := w.watchFolder(); err != nil {
		if !w.gone {
			s.log.Error("the plugin folder is gone; its running plugins keep serving, and it is followed again once it is back",
				"dir", w.path, "error", err)
		}
		w.gone = true
		return
	}
	w.gone = false
	s.log.Warn("the plugin folder was replaced; following the folder now at its path", "dir", w.path, "folder", w.dir)
}
