package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/idplug/idplug/internal/folderrisk"
)

// The SQLite database holds the vault, the sessions and the provider's signing
// keys; SQLite writes every commit through the write-ahead log (-wal) beside
// it and keeps its index in -shm, and replays either into the database when it
// opens it. So the file, those beside it and the folder that holds them must
// be idplug's alone: owned by root or the user idplug runs as, with no
// permission for group or others on the files, and a folder only they may
// write (as the plugin folder, host/catalog).

// sqliteSidecars are the files SQLite keeps beside the database (and reads
// back into it): the write-ahead log, its index, and the rollback journal of a
// database not yet in WAL mode.
var sqliteSidecars = []string{"-wal", "-shm", "-journal"}

// openSQLiteFile creates the database file 0600 if it is missing (when create
// is set: a maintenance command given a wrong path must not make an empty
// database there), and checks, on descriptors where it can, the file, the
// folder it is in (with the folders above) and the files SQLite keeps beside
// it. file is clean and absolute.
func openSQLiteFile(file string, create bool) error {
	dir, err := sqliteFolder(file)
	if err != nil {
		return err
	}
	if err := checkSQLiteFolder(dir, file); err != nil {
		return err
	}
	// Checked before it is opened: opening a FIFO or a device can act. A
	// link is followed, as SQLite follows it.
	if info, err := os.Stat(file); err == nil && !info.Mode().IsRegular() {
		return fmt.Errorf("store: sqlite: %s is not a regular file", file)
	}
	// Created 0600 before SQLite opens it: SQLite gives the -wal and -shm it
	// creates the mode of the database.
	flags := os.O_RDWR | syscall.O_NOCTTY | syscall.O_NONBLOCK | syscall.O_CLOEXEC
	if create {
		flags |= os.O_CREATE
	}
	f, err := os.OpenFile(file, flags, 0o600)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("store: sqlite: there is no database at %s: idplug migrate --config FILE (or idplug serve) creates it", file)
	}
	if err != nil {
		return fmt.Errorf("store: sqlite: %w", err)
	}
	info, err := f.Stat()
	f.Close()
	if err != nil {
		return fmt.Errorf("store: sqlite: %w", err)
	}
	if err := checkSQLiteFile(file, info); err != nil {
		return err
	}
	// SQLite keeps its files beside the file a link points to.
	real, err := filepath.EvalSymlinks(file)
	if err != nil {
		return fmt.Errorf("store: sqlite: %w", err)
	}
	if realDir := filepath.Dir(real); realDir != dir {
		if err := checkSQLiteFolder(realDir, file); err != nil {
			return err
		}
	}
	for _, suffix := range sqliteSidecars {
		if err := checkSQLiteSidecar(real + suffix); err != nil {
			return err
		}
	}
	return nil
}

// sqliteFolder is the folder of file, links resolved; a missing one is an
// error that says how to make it.
func sqliteFolder(file string) (string, error) {
	dir, err := filepath.EvalSymlinks(filepath.Dir(file))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("store: sqlite: the folder of %s does not exist: make it, idplug's alone (install -d -m 700 %s)", file, filepath.Dir(file))
	case err != nil:
		return "", fmt.Errorf("store: sqlite: %s: %w", file, err)
	}
	return dir, nil
}

// checkSQLite says what would keep the database file from opening whoever
// runs idplug, creating nothing: its folder missing, the file not a regular
// one. (Who owns them depends on the user idplug serve runs as, which need
// not be the one checking.)
func checkSQLite(file string) error {
	if _, err := sqliteFolder(file); err != nil && !errors.Is(err, fs.ErrPermission) {
		return err
	}
	info, err := os.Stat(file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil // made at the first start
	case errors.Is(err, fs.ErrPermission):
		return nil // a folder only idplug's user may read, as it should be
	case err != nil:
		return fmt.Errorf("store: sqlite: %w", err)
	case !info.Mode().IsRegular():
		return fmt.Errorf("store: sqlite: %s is not a regular file", file)
	case info.Mode().Perm()&0o007 != 0:
		// What Open refuses whoever runs the check; the group's bits and
		// the owner depend on the account idplug runs as, which a check
		// run by another (root, say) cannot stand for.
		return fmt.Errorf("store: sqlite: %s is open to other users (mode %#o): chmod 600 it", file, info.Mode().Perm())
	}
	return nil
}

// checkSQLiteFile applies the rules for the database and the files beside it
// to info, that of the open file at path.
func checkSQLiteFile(path string, info fs.FileInfo) error {
	perm, open := info.Mode().Perm(), info.Mode().Perm()
	if st, ok := info.Sys().(*syscall.Stat_t); ok && int(st.Gid) == os.Getegid() {
		// Group bits for idplug's own group are idplug's: Kubernetes gives a
		// volume's files to the pod's fsGroup, group readable and writable,
		// at every mount (fsGroupChangePolicy Always).
		open &^= 0o060
	}
	switch {
	case !info.Mode().IsRegular():
		return fmt.Errorf("store: sqlite: %s is not a regular file", path)
	case open&0o044 != 0:
		return fmt.Errorf("store: sqlite: %s is readable by other users (mode %#o): chmod 600 it", path, perm)
	case open&0o077 != 0:
		return fmt.Errorf("store: sqlite: %s is open to other users (mode %#o): chmod 600 it", path, perm)
	}
	if uid, ok := ownerOf(info); ok {
		if euid := uint32(os.Geteuid()); uid != 0 && uid != euid {
			return fmt.Errorf("store: sqlite: %s is owned by uid %d, neither root nor the user idplug runs as (uid %d): "+
				"run idplug as its owner, or chown it", path, uid, euid)
		}
	}
	return nil
}

// checkSQLiteSidecar checks the file SQLite keeps beside the database at
// path, if there is one, on its descriptor. A link there is refused: SQLite
// would not follow it.
func checkSQLiteSidecar(path string) error {
	linfo, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: sqlite: %w", err)
	}
	if !linfo.Mode().IsRegular() {
		return fmt.Errorf("store: sqlite: %s is not a regular file", path)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NOCTTY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // removed by the SQLite of another process
	}
	if err != nil {
		return fmt.Errorf("store: sqlite: %w", err)
	}
	info, err := f.Stat()
	f.Close()
	if err != nil {
		return fmt.Errorf("store: sqlite: %w", err)
	}
	return checkSQLiteFile(path, info)
}

// checkSQLiteFolder checks dir, the resolved folder of the database file:
// whoever else may write it may put a -wal or -shm of their own beside the
// database before SQLite creates one (which the sticky bit does not stop), or
// replace the database. Its group may write it only when that group is idplug's
// own (on Kubernetes, a volume's fsGroup equal to the pod's runAsGroup). The
// folders above are checked as those above a secret file are
// (internal/folderrisk).
func checkSQLiteFolder(dir, file string) error {
	info, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("store: sqlite: %w", err)
	}
	perm := info.Mode().Perm()
	if perm&0o002 != 0 {
		sticky := ""
		if info.Mode()&fs.ModeSticky != 0 {
			sticky = ", the sticky bit does not stop that"
		}
		return fmt.Errorf("store: sqlite: %s is in %s, which is writable by other users (mode %v): "+
			"they could put a write-ahead log of their own beside it%s; keep it in a folder only idplug's user may write",
			file, dir, perm, sticky)
	}
	st, _ := info.Sys().(*syscall.Stat_t)
	if st != nil && perm&0o020 != 0 && int(st.Gid) != os.Getegid() {
		return fmt.Errorf("store: sqlite: %s is in %s, which is writable by its group (gid %d, mode %v), not idplug's (gid %d): "+
			"chmod g-w %s, or run idplug with that group", file, dir, st.Gid, perm, os.Getegid(), dir)
	}
	if st != nil {
		if euid := uint32(os.Geteuid()); st.Uid != 0 && st.Uid != euid {
			return fmt.Errorf("store: sqlite: %s is in %s, which is owned by uid %d, neither root nor the user idplug runs as (uid %d): "+
				"run idplug as its owner, or chown it", file, dir, st.Uid, euid)
		}
	}
	// database/sql opens connections by path for as long as idplug runs:
	// whoever may rename a folder above puts a database of theirs in its place.
	switch p, why, err := folderrisk.Above(dir); {
	case err != nil:
		return fmt.Errorf("store: sqlite: %s: the folder %s above it cannot be checked: %v", file, p, err)
	case why != "":
		return fmt.Errorf("store: sqlite: %s is inside %s, %s, so another account could put another folder in its place: "+
			"keep it in folders of idplug's or root's", file, p, why)
	}
	return nil
}

// ownerOf returns the uid that owns the file info describes, where the
// system tells.
func ownerOf(info fs.FileInfo) (uint32, bool) {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return st.Uid, true
	}
	return 0, false
}
