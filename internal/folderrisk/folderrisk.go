// Package folderrisk tells whether an account other than root and idplug's own
// could rename or replace what a folder holds: whoever can rename a folder on
// a path puts one of their own in its place, with a secret, a database or a
// plugin of theirs in it. The secret files of the configuration, the SQLite
// store and the plugin folder are all checked by these rules.
package folderrisk

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"

	"golang.org/x/sys/unix"
)

// Risk is how another account could rename or replace what a folder holds.
type Risk int

const (
	None         Risk = iota
	ForeignOwner      // the folder is another account's
	OpenToAll         // every account may write it, without the sticky bit (which stops renaming another's)
	ForeignGroup      // a group idplug does not run in may write it, without the sticky bit
)

// Of is the risk of the folder info describes, for idplug running as euid.
func Of(info fs.FileInfo, euid uint32) Risk {
	m := info.Mode()
	st, _ := info.Sys().(*syscall.Stat_t)
	sticky := m&fs.ModeSticky != 0
	switch {
	case st != nil && st.Uid != 0 && st.Uid != euid:
		return ForeignOwner
	case m.Perm()&0o002 != 0 && !sticky:
		return OpenToAll
	case st != nil && m.Perm()&0o020 != 0 && !sticky && !InGroup(int(st.Gid)):
		return ForeignGroup
	}
	return None
}

// Describe says why a folder with risk r is one, as a clause after its path:
// "owned by uid 1000, neither root nor the user idplug runs as (uid 0)".
func (r Risk) Describe(info fs.FileInfo, euid uint32) string {
	st, _ := info.Sys().(*syscall.Stat_t)
	perm := info.Mode().Perm()
	switch {
	case r == ForeignOwner && st != nil:
		return fmt.Sprintf("owned by uid %d, neither root nor the user idplug runs as (uid %d)", st.Uid, euid)
	case r == OpenToAll:
		return fmt.Sprintf("which every account may write without the sticky bit (mode %v)", perm)
	case r == ForeignGroup && st != nil:
		return fmt.Sprintf("which its group (gid %d, not one of idplug's) may write (mode %v)", st.Gid, perm)
	}
	return ""
}

// Above checks the folders above dir, up to /, for idplug running as its
// effective user. It returns the first one at risk, with why, or "" when none
// is; err when one cannot be read. A folder of a read-only mount is no one's
// to write, whatever its modes say (Kubernetes mounts a ConfigMap's 0777
// folder so).
func Above(dir string) (folder, why string, err error) {
	euid := uint32(os.Geteuid())
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		info, err := os.Stat(p)
		if err != nil {
			return p, "", err
		}
		if r := Of(info, euid); r != None && !ReadOnlyMount(p) {
			return p, r.Describe(info, euid), nil
		}
		if p == filepath.Dir(p) {
			return "", "", nil
		}
	}
}

// ReadOnlyMount says whether dir is on a file system mounted read-only.
func ReadOnlyMount(dir string) bool {
	var st unix.Statfs_t
	return unix.Statfs(dir, &st) == nil && st.Flags&unix.ST_RDONLY != 0
}

// InGroup says whether idplug runs in group gid: its own, or a supplementary
// one (the fsGroup Kubernetes gives a volume's folders, group writable).
func InGroup(gid int) bool {
	if gid == os.Getegid() {
		return true
	}
	groups, _ := os.Getgroups()
	return slices.Contains(groups, gid)
}
