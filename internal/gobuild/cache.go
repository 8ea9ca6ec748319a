package gobuild

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	pathpkg "path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Build builds the command at pkg (a package path relative to dir, such as
// "./plugins/oauth2" or ".") into out, through a copy kept across test processes
// and runs.
//
// Go's build cache keeps compiled packages but not linked commands: every
// `go build -o` to a new path links again, a few seconds of CPU for a plugin
// and more for idplug, and a test run built the same commands in a dozen test
// processes. `go build -o` to a path whose file already carries the build ID
// Go expects does nothing, so each command is built to one path of its own in
// a folder of the user's cache, and copied from there: a test may change its
// copy (a corrupted plugin, a checksum test) without touching the kept one.
// The copy is whole before out gets its name.
//
// A command is kept under its module's path and its folder in the module, not
// under the folder it was built from: a fresh clone (CI's, in the temporary
// folder), a copy, or a module a test generates again in each run all use the
// one kept command, and since the build is -trimpath, the same source in
// another folder links to the same build ID, so go build finds nothing to do.
func Build(ctx context.Context, dir, pkg, out string) error {
	folder := keptFolder()
	if folder == "" {
		return build(ctx, dir, pkg, out)
	}
	kept, unlock, err := keptPath(folder, dir, pkg)
	if err != nil {
		return err
	}
	defer unlock()
	if err := build(ctx, dir, pkg, kept); err != nil {
		return err
	}
	now := time.Now()
	_ = os.Chtimes(kept, now, now) // when it was last used, for prune
	return copyExecutable(kept, out)
}

// build runs Command for pkg into out, its output in the error.
func build(ctx context.Context, dir, pkg, out string) error {
	if msg, err := Command(ctx, dir, "-o", out, pkg).CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, msg)
	}
	return nil
}

// EnvCacheDir names the folder of kept commands, when set; the default is
// idplug/test-builds in the user's cache folder (os.UserCacheDir).
const EnvCacheDir = "IDPLUG_TEST_BUILD_CACHE"

// keptFor is how long a kept command no build has asked for stays.
const keptFor = 7 * 24 * time.Hour

var pruneOnce sync.Once

// keptFolder is the folder of kept commands, made if missing, or "" when there
// is none this user alone may write: with no cache folder of the user's, a
// shared one (the temporary folder) would let another local user swap in the
// commands the tests run.
func keptFolder() string {
	folder := os.Getenv(EnvCacheDir)
	if folder == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return ""
		}
		folder = filepath.Join(base, "idplug", "test-builds")
	}
	if err := os.MkdirAll(folder, 0o700); err != nil {
		return ""
	}
	info, err := os.Lstat(folder)
	if err != nil || !info.IsDir() || info.Mode().Perm()&0o022 != 0 {
		return ""
	}
	if st, ok := info.Sys().(*syscall.Stat_t); !ok || int(st.Uid) != os.Geteuid() {
		return ""
	}
	return folder
}

// keptPath returns the kept path in folder for pkg in dir, locked for this
// process (other test processes build the same commands at the same time), and
// the unlock. The name hashes the command's place in its module and the
// settings Command takes from the environment; Go's build ID check does the
// rest, so another commit, or another module of the same path, builds anew.
func keptPath(folder, dir, pkg string) (string, func(), error) {
	pruneOnce.Do(func() { prune(folder, time.Now().Add(-keptFor)) })
	abs, err := filepath.Abs(filepath.Join(dir, pkg))
	if err != nil {
		return "", nil, err
	}
	name := commandName(abs)
	key := strings.Join([]string{name, os.Getenv("CGO_ENABLED"), os.Getenv("GOFLAGS"), os.Getenv("GOOS"), os.Getenv("GOARCH")}, "\x00")
	sum := sha256.Sum256([]byte(key))
	path := filepath.Join(folder, pathpkg.Base(name)+"-"+hex.EncodeToString(sum[:8]))
	for {
		lock, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			return "", nil, err
		}
		if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
			lock.Close()
			return "", nil, err
		}
		// prune may have removed the lock file while this process waited on
		// it: the lock then guards nothing, and a new file must be locked.
		held, err := lock.Stat()
		if err != nil {
			lock.Close()
			return "", nil, err
		}
		named, err := os.Stat(path + ".lock")
		if err == nil && os.SameFile(held, named) {
			return path, func() { lock.Close() }, nil
		}
		lock.Close()
		if err != nil && !os.IsNotExist(err) {
			return "", nil, err
		}
	}
}

// prune removes the kept commands not used since before, and their locks, so
// that commands no longer built (a package renamed or gone, a module a test
// once generated) leave nothing behind for long. A command another process
// holds locked stays.
func prune(folder string, before time.Time) {
	entries, err := os.ReadDir(folder)
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, ".lock") {
			continue
		}
		info, err := e.Info()
		if err != nil || info.ModTime().After(before) {
			continue
		}
		path := filepath.Join(folder, name)
		lock, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			continue
		}
		if syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
			_ = os.Remove(path)
			_ = os.Remove(path + ".lock")
		}
		lock.Close()
	}
}

// copyExecutable copies src to dst with mode 0755, writing a temporary file
// beside dst and renaming it. dst's folder is made when missing, as `go build
// -o` does.
func copyExecutable(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, in); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o755); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}

// commandName names the command in folder abs by where it sits in its module:
// its import path ("example.com/m/cmd/x"), or without a go.mod above it, the
// folder itself.
func commandName(abs string) string {
	for root := abs; ; {
		if text, err := os.ReadFile(filepath.Join(root, "go.mod")); err == nil {
			if mod := modulePath(text); mod != "" {
				if rel, err := filepath.Rel(root, abs); err == nil {
					return pathpkg.Join(mod, filepath.ToSlash(rel))
				}
			}
			return abs
		}
		parent := filepath.Dir(root)
		if parent == root {
			return abs
		}
		root = parent
	}
}

// modulePath reads the module directive of a go.mod, "" when there is none.
func modulePath(gomod []byte) string {
	for line := range strings.Lines(string(gomod)) {
		fields := strings.Fields(line)
		if len(fields) >= 2 && fields[0] == "module" {
			if path, err := strconv.Unquote(fields[1]); err == nil {
				return path
			}
			return fields[1]
		}
	}
	return ""
}
