package store

import (
	"context"
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Review: the folders above the database's are checked only for "writable by
// every user without the sticky bit" (checkSQLiteFolder), while a ${file:}
// secret's folders above are refused when another account owns them
// (host/config/secretfile.go, checkSecretFolder), because "whoever may rename
// one puts a folder of their own in its place". The same holds here, and it
// holds after the start: database/sql opens new connections by path for the
// whole life of the process (8 at most, idle ones closed after 5 minutes), and
// none of them is checked. So the owner of a folder above the database's
// renames idplug's folder away and puts one of their own there, with a
// database of theirs that every later connection of idplug serve opens: they
// read the rows idplug writes through it (vault records, user ids, sessions,
// grants), and choose what it reads (revoked sessions and grants that are not,
// consumed flows that never were). Open should refuse a folder above owned by
// another account, as the secret files' check does.
func TestReviewSQLiteFolderAboveOwnedByAnotherAccount(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a folder to another account")
	}
	const mallory = 4242
	base := t.TempDir()
	for _, d := range []string{filepath.Dir(base), base} {
		if err := os.Chmod(d, 0o711); err != nil { // searchable, as /srv or /home are
			t.Fatal(err)
		}
	}
	parent := filepath.Join(base, "srv") // say /srv/app, another account's
	dir := filepath.Join(parent, "idplug")
	if err := os.Mkdir(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(parent, mallory, mallory); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil { // idplug's alone, as the docs ask
		t.Fatal(err)
	}
	file := filepath.Join(dir, "idplug.db")

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	st, err := Open(ctx, "sqlite:"+file, Options{Migrate: true, Timeout: 5 * time.Second, OneProcess: true})
	if err != nil {
		t.Logf("refused, as a secret file in such a folder is: %v", err)
		return
	}
	defer st.Close()
	s := st.(*sqliteStore)

	// Mallory's database, with a row idplug never wrote.
	evil := filepath.Join(parent, "evil.db")
	db, err := sql.Open("sqlite", evil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE mallory (x INTEGER)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := os.Chown(evil, mallory, mallory); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(evil, 0o666); err != nil {
		t.Fatal(err)
	}

	// What mallory does, as mallory: nothing but renames in a folder of theirs.
	cmd := exec.Command("/bin/sh", "-c", `set -e; cd "$1"; mv idplug idplug.old; mkdir -m 777 idplug; mv evil.db idplug/idplug.db`, "sh", parent)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: mallory, Gid: mallory}}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mallory's swap: %v: %s", err, out)
	}

	// The store's next connections (every one the pool may open) open the path.
	var conns []*sql.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range 8 {
		c, err := s.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		var n int
		if err := c.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE name = 'mallory'`).Scan(&n); err != nil {
			continue // mallory's file lacks idplug's tables; some queries fail, this one need not
		}
		if n == 1 {
			t.Fatalf("Open accepted %s below %s, owned by uid %d; once that account swapped the folder, "+
				"the store's next connection opened its database (%s, mode 0666, uid %d): it reads what idplug writes and chooses what it reads",
				file, parent, mallory, file, mallory)
		}
	}
	t.Fatalf("Open accepted %s below %s, owned by uid %d (a secret file there is refused)", file, parent, mallory)
}
