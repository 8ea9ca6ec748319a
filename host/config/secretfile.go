package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/idplug/idplug/internal/folderrisk"
)

// readSecretFile reads the file a ${file:PATH} reference names: a regular file of
// at most MaxSecretFileSize bytes, without its trailing newline. The error names
// the path, never the content.
func readSecretFile(path, baseDir string) (*secretRead, error) {
	if path == "" {
		return nil, errors.New(`"${file:}" names no file: write ${file:/path/to/secret}`)
	}
	if strings.TrimSpace(path) != path {
		return nil, fmt.Errorf("${file:%q}: the path has spaces around it", path)
	}
	full := path
	if !filepath.IsAbs(full) {
		full = filepath.Join(baseDir, full)
	}
	// Stat follows links, as the file may be one (Kubernetes mounts a
	// secret's files as links).
	f, info, err := openRegular(full)
	switch {
	case errors.Is(err, errNotRegular), errors.Is(err, errChanged):
		return nil, fmt.Errorf("${file:%s}: %s %v", path, full, err)
	case err != nil:
		// A link whose target is missing: say so, not that the path itself is.
		if target, lerr := os.Readlink(full); lerr == nil && errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("${file:%s}: %s is a link to %s, which does not exist", path, full, target)
		}
		return nil, fmt.Errorf("${file:%s}: cannot read %s: %v", path, full, unwrapPathError(err))
	}
	defer f.Close()
	// Whoever may write the file sets the secret: a session key they chose
	// forges every session, an API key they chose opens /v1. (A secret
	// readable by others is theirs to read too, but containers mount
	// secrets readable by all, behind their own walls: that is left to the
	// operator.)
	if perm := info.Mode().Perm(); perm&0o022 != 0 {
		return nil, fmt.Errorf("${file:%s}: %s can be written by other accounts (mode %04o), so anyone among them sets this secret: chmod go-w it", path, full, perm)
	}
	if err := checkSecretOwners(full, info, "this secret"); err != nil {
		return nil, fmt.Errorf("${file:%s}: %v", path, err)
	}
	value, err := readSecretValue(f, full)
	if err != nil {
		return nil, fmt.Errorf("${file:%s}: %s", path, err)
	}
	return &secretRead{ref: path, full: full, version: versionOf(info), value: value}, nil
}

// readSecretValue reads an opened secret file whole, without its trailing
// newline; the error names full, never the content.
func readSecretValue(f *os.File, full string) (string, error) {
	data, err := io.ReadAll(io.LimitReader(f, MaxSecretFileSize+1))
	if err != nil {
		return "", fmt.Errorf("cannot read %s: %v", full, unwrapPathError(err))
	}
	if len(data) > MaxSecretFileSize {
		return "", fmt.Errorf("%s is larger than the limit of %d bytes", full, MaxSecretFileSize)
	}
	if secretReadHook != nil {
		secretReadHook(full)
	}
	return strings.TrimRight(string(data), "\r\n"), nil
}

var (
	errNotRegular = errors.New("is not a regular file")
	errChanged    = errors.New("changed while it was opened; try again")
)

// openRegular opens path for reading when it is a regular file, and returns
// what it opened. The path is checked before the open: opening a FIFO waits
// for a writer (or lets one through), and opening a device can act (a tape
// rewinds, /dev/watchdog arms the watchdog). O_NONBLOCK and O_NOCTTY: should
// the path be swapped for a FIFO or a terminal between the check and the
// open, the open neither hangs nor makes it idplug's terminal; what was
// opened is then checked again (errChanged).
func openRegular(path string) (*os.File, os.FileInfo, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, nil, errNotRegular
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOCTTY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	opened, err := f.Stat()
	if err == nil && (!opened.Mode().IsRegular() || !os.SameFile(info, opened)) {
		err = errChanged
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, opened, nil
}

func unwrapPathError(err error) error {
	if pe, ok := errors.AsType[*os.PathError](err); ok {
		return pe.Err
	}
	return err
}

// checkSecretOwners: whoever owns the file, or may put another file in its
// place, sets the secret as surely as whoever may write it. The file (as
// opened) must be root's or idplug's user's; so must the folder that holds it,
// both the one its path names and, for a link, the one that holds its target
// (a Kubernetes secret's ..data), and so must every folder above, which no
// other account may write either (others only with the sticky bit, which
// keeps them from renaming idplug's; its group only when idplug runs in it):
// whoever may rename one puts a folder of their own in its place.
func checkSecretOwners(full string, info os.FileInfo, what string) error {
	euid := uint32(os.Geteuid())
	if st, ok := info.Sys().(*syscall.Stat_t); ok && st.Uid != 0 && st.Uid != euid {
		return fmt.Errorf("%s is owned by uid %d, neither root nor the user idplug runs as (uid %d), who sets %s: chown it", full, st.Uid, euid, what)
	}
	dirs := []string{filepath.Dir(full)}
	if real, err := filepath.EvalSymlinks(full); err == nil && filepath.Dir(real) != dirs[0] {
		dirs = append(dirs, filepath.Dir(real))
	}
	for _, dir := range dirs {
		if err := checkSecretFolder(full, dir, euid); err != nil {
			return err
		}
	}
	return nil
}

func checkSecretFolder(full, dir string, euid uint32) error {
	info, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("%s: the folder %s cannot be checked: %v", full, dir, unwrapPathError(err))
	}
	// A folder of a read-only mount is no one's to write, whatever its
	// modes say: Kubernetes mounts a ConfigMap's 0777 folder so.
	if r := folderrisk.Of(info, euid); r != folderrisk.None && !folderrisk.ReadOnlyMount(dir) {
		return riskError(r, full, dir, info, euid)
	}
	switch p, why, err := folderrisk.Above(dir); {
	case err != nil:
		return fmt.Errorf("%s: the folder %s cannot be checked: %v", full, p, unwrapPathError(err))
	case why != "":
		return fmt.Errorf("%s is inside %s, %s, so another account could put another folder in its place: keep it in folders of idplug's or root's", full, p, why)
	}
	return nil
}

// riskError says what risk r of the folder dir means for the file full, which
// is in dir.
func riskError(r folderrisk.Risk, full, dir string, info os.FileInfo, euid uint32) error {
	perm := info.Mode().Perm()
	switch r {
	case folderrisk.ForeignOwner:
		return fmt.Errorf("%s is in %s, %s, who could put another file in its place: keep it in a folder of idplug's or root's", full, dir, r.Describe(info, euid))
	case folderrisk.OpenToAll:
		return fmt.Errorf("%s is in %s, which every account may write (mode %v), so anyone could put another file in its place: chmod o-w %s", full, dir, perm, dir)
	}
	return fmt.Errorf("%s is in %s, %s, so its members could put another file in its place: chmod g-w %s", full, dir, r.Describe(info, euid), dir)
}
