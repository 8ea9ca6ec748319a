package store_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/idplug/idplug/host/store"
)

// The database, the files SQLite keeps beside it and its folder must be
// idplug's alone (sqlite_files.go); TestSQLiteFileIsPrivate covers the
// database's own mode.

// openSQLite opens the store on path and returns its error, closing a store
// that opened.
func openSQLite(t *testing.T, path string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	s, err := store.Open(ctx, "sqlite:"+path, store.Options{Migrate: true})
	if err == nil {
		s.Close()
	}
	return err
}

// refused checks that opening the store on path fails with an error that
// names what and says why.
func refused(t *testing.T, path, what, why string) {
	t.Helper()
	err := openSQLite(t, path)
	if err == nil || !strings.Contains(err.Error(), what) || !strings.Contains(err.Error(), why) {
		t.Fatalf("Open(%s) = %v; want an error naming %s: %q", path, err, what, why)
	}
}

// closedDatabase makes a database of an earlier run, closed cleanly (SQLite
// removes its -wal and -shm), in a folder of its own.
func closedDatabase(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "idplug.db")
	if err := openSQLite(t, path); err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if _, err := os.Stat(path + suffix); err == nil {
			t.Fatalf("the %s outlived a clean close", suffix)
		}
	}
	return path
}

// A -wal or -shm already beside the database keeps its mode (SQLite fixes the
// mode only of those it creates), and every commit (vault records, sessions,
// signing keys) goes through the -wal: one others can read, restored or
// unpacked with another mode, or planted, is refused by name.
func TestSQLiteRefusesAnOpenLog(t *testing.T) {
	for _, suffix := range []string{"-wal", "-shm", "-journal"} {
		t.Run(suffix, func(t *testing.T) {
			path := closedDatabase(t)
			// Any bytes: SQLite ignores a log with an invalid header and starts
			// it again over them.
			if err := os.WriteFile(path+suffix, make([]byte, 32), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path+suffix, 0o644); err != nil {
				t.Fatal(err)
			}
			refused(t, path, path+suffix, "is readable by other users (mode 0644): chmod 600 it")
			if err := os.Chmod(path+suffix, 0o602); err != nil {
				t.Fatal(err)
			}
			refused(t, path, path+suffix, "is open to other users (mode 0602): chmod 600 it")
			// One of the database's mode is used (an invalid log is ignored).
			if err := os.Chmod(path+suffix, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := openSQLite(t, path); err != nil {
				t.Fatal(err)
			}
		})
	}
	// A link (SQLite would not follow one) or a FIFO there is refused.
	path := closedDatabase(t)
	if err := os.Symlink(filepath.Join(t.TempDir(), "elsewhere"), path+"-wal"); err != nil {
		t.Fatal(err)
	}
	refused(t, path, path+"-wal", "is not a regular file")
	if err := os.Remove(path + "-wal"); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(path+"-shm", 0o600); err != nil {
		t.Fatal(err)
	}
	refused(t, path, path+"-shm", "is not a regular file")
}

// The database path names something else than a regular file: refused
// before it is opened (opening a device can act).
func TestSQLiteRefusesANonRegularFile(t *testing.T) {
	dir := t.TempDir()
	refused(t, dir, dir, "is not a regular file")
	fifo := filepath.Join(t.TempDir(), "idplug.db")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	refused(t, fifo, fifo, "is not a regular file")
}

// The folder of the database: whoever else may write it may put a -wal of
// their own beside the database before SQLite creates one (when the last
// connection closes, SQLite removes it, and makes it again later), which the
// sticky bit does not prevent, or replace the database.
func TestSQLiteRefusesAFolderOthersMayWrite(t *testing.T) {
	for _, mode := range []os.FileMode{0o777, 0o757, 0o777 | os.ModeSticky} {
		dir := t.TempDir()
		path := filepath.Join(dir, "idplug.db")
		if err := os.Chmod(dir, mode); err != nil {
			t.Fatal(err)
		}
		refused(t, path, dir, "which is writable by other users")
		if _, err := os.Stat(path); err == nil {
			t.Errorf("mode %v: the database was created in a folder that is refused", mode)
		}
	}
	// A folder above that every user may write without the sticky bit:
	// anyone could put another folder in its place. With the sticky bit (as
	// /tmp, above every test's folder) it passes.
	parent := t.TempDir()
	dir := filepath.Join(parent, "state")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(parent, 0o777); err != nil {
		t.Fatal(err)
	}
	refused(t, filepath.Join(dir, "idplug.db"), parent, "which every account may write without the sticky bit")
	if err := os.Chmod(parent, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	if err := openSQLite(t, filepath.Join(dir, "idplug.db")); err != nil {
		t.Fatal(err)
	}
}

// A folder above owned by another account: its owner may rename idplug's
// folder away and put one of theirs in its place, with a database every later
// connection of the pool (opened by path, for as long as idplug runs) would
// open. Refused, as a secret file in such a folder is; root's folders pass.
func TestSQLiteFolderAboveOwnedByAnotherAccount(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a folder to another account")
	}
	parent := t.TempDir() // say /srv/app, another account's
	dir := filepath.Join(parent, "idplug")
	if err := os.Mkdir(dir, 0o700); err != nil { // idplug's alone, as the docs ask
		t.Fatal(err)
	}
	if err := os.Chown(parent, 4242, 4242); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "idplug.db")
	refused(t, path, parent, "owned by uid 4242, neither root nor the user idplug runs as")
	if _, err := os.Stat(path); err == nil {
		t.Error("the database was created below a folder that is refused")
	}
	if err := os.Chown(parent, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := openSQLite(t, path); err != nil {
		t.Fatalf("below root's folders: %v", err)
	}
}

// A folder its group may write passes only when that group is idplug's: a
// Kubernetes volume with the pod's fsGroup (the chart's /data, 2775, group
// 65532, with runAsGroup 65532) is one; a folder of another group is refused.
func TestSQLiteFolderOfItsGroup(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o2770); err != nil {
		t.Fatal(err)
	}
	if err := openSQLite(t, filepath.Join(dir, "idplug.db")); err != nil {
		t.Fatalf("a folder of idplug's group: %v", err)
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the folder to another group")
	}
	dir = t.TempDir()
	if err := os.Chown(dir, 0, 65534); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o770); err != nil {
		t.Fatal(err)
	}
	refused(t, filepath.Join(dir, "idplug.db"), dir, "which is writable by its group (gid 65534")
	if err := os.Chmod(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := openSQLite(t, filepath.Join(dir, "idplug.db")); err != nil {
		t.Fatalf("a folder its group may only read: %v", err)
	}
}

// Kubernetes, with the pod's fsGroup and its default fsGroupChangePolicy, makes
// a volume's files group readable and writable at every mount: a database that
// idplug made 0600 is 0660, group idplug's, after the pod restarts. That passes;
// the same mode for another group does not.
func TestSQLiteFileOfItsGroupAfterAMount(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "idplug.db")
	if err := openSQLite(t, file); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{file, file + "-wal", file + "-shm"} {
		if err := os.Chmod(f, 0o660); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	if err := openSQLite(t, file); err != nil {
		t.Fatalf("a database of idplug's group, 0660: %v", err)
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the file to another group")
	}
	if err := os.Chown(file, 0, 65534); err != nil {
		t.Fatal(err)
	}
	refused(t, file, file, "(mode 0660)")
}

// "Owned by root or idplug's user": a database, a -wal or a folder owned by
// another user with mode 0600 (0700) passes the mode check, yet that user
// reads and edits it. An idplug run as root (plugin_user needs it) would write
// its vault, sessions and signing keys into a file another account owns.
func TestSQLiteRefusesFilesOfAnotherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a file to another user")
	}
	const nobody = 65534
	dir := t.TempDir()
	path := filepath.Join(dir, "idplug.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	refused(t, path, path, "is owned by uid 65534, neither root nor the user idplug runs as")

	path = closedDatabase(t)
	if err := os.WriteFile(path+"-wal", nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path+"-wal", nobody, nobody); err != nil {
		t.Fatal(err)
	}
	refused(t, path, path+"-wal", "is owned by uid 65534, neither root nor the user idplug runs as")

	dir = t.TempDir()
	if err := os.Chown(dir, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	refused(t, filepath.Join(dir, "idplug.db"), dir, "which is owned by uid 65534, neither root nor the user idplug runs as")
}

// A database path that is a link: SQLite keeps its -wal and -shm beside the
// file the link points to, so that folder is the one checked.
func TestSQLiteLinkedDatabaseChecksTheFolderItPointsTo(t *testing.T) {
	real := filepath.Join(t.TempDir(), "idplug.db")
	link := filepath.Join(t.TempDir(), "idplug.db")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	if err := openSQLite(t, link); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Dir(real), 0o777); err != nil {
		t.Fatal(err)
	}
	refused(t, link, filepath.Dir(real), "which is writable by other users")
}
