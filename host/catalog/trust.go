package catalog

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// untrusted says why a file or folder may not be trusted to hold code, or "": it
// must be owned by root or by the user idplug runs as, and writable by neither
// its group nor other users. Whoever could write it could choose what runs.
func untrusted(info fs.FileInfo) string {
	perm := info.Mode().Perm()
	switch {
	case perm&0o002 != 0:
		return fmt.Sprintf("writable by other users (mode %v)", perm)
	case perm&0o020 != 0:
		return fmt.Sprintf("writable by its group (mode %v)", perm)
	}
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		if euid := uint32(os.Geteuid()); st.Uid != 0 && st.Uid != euid {
			return fmt.Sprintf("owned by uid %d, neither root nor the user idplug runs as (uid %d)", st.Uid, euid)
		}
	}
	return ""
}

// checkParents checks the folders above the plugin folder dir (a resolved,
// absolute path), up to /: one that everyone may write without the sticky bit
// lets anyone rename the plugin folder away and put one of their own in its
// place, so it is refused, as sshd refuses such a path. /tmp (sticky) passes.
func checkParents(dir string) string {
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		info, err := os.Stat(p)
		if err != nil {
			return fmt.Sprintf("its parent %s cannot be checked: %v", p, err)
		}
		if m := info.Mode(); m.Perm()&0o002 != 0 && m&fs.ModeSticky == 0 {
			return fmt.Sprintf("inside %s, which every user may write without the sticky bit (mode %v): "+
				"anyone could put another folder in its place; chmod o-w (or +t) %s", p, m.Perm(), p)
		}
		if p == filepath.Dir(p) {
			return ""
		}
	}
}

// checkChain checks every folder below dir on the way to the resolved file real
// (dir itself is checked by Scan). A link into a subfolder someone else can write
// is refused like a file they can write.
func checkChain(dir, real string) string {
	rel, err := filepath.Rel(dir, filepath.Dir(real))
	if err != nil || rel == "." {
		return ""
	}
	cur := dir
	for _, part := range strings.Split(rel, string(filepath.Separator)) {
		cur = filepath.Join(cur, part)
		info, err := os.Lstat(cur)
		if err != nil {
			return fmt.Sprintf("resolves to %s: %v", real, err)
		}
		if why := untrusted(info); why != "" {
			return fmt.Sprintf("resolves to %s, through folder %s that is %s", real, cur, why)
		}
	}
	return ""
}

// checkExecutable applies the rules for the plugin file itself.
func checkExecutable(info fs.FileInfo) string {
	mode := info.Mode()
	switch {
	case !mode.IsRegular():
		return fmt.Sprintf("not a regular file (%v)", mode.Type())
	case mode.Perm()&0o111 == 0:
		return fmt.Sprintf("not executable (mode %v)", mode.Perm())
	}
	return untrusted(info)
}

// Open opens the plugin file at path (as Scan resolved it, inside dir) for a
// launch and checks it again on the open descriptor: the folders on its way, its
// type, owner and mode, and its digest when checksum is set. What runs is then
// this descriptor, so a file swapped at the path after the check cannot run. The
// caller closes the file.
func Open(dir, path string, checksum []byte) (*os.File, error) {
	if dir != "" {
		if why := checkParents(dir); why != "" {
			return nil, fmt.Errorf("%s: plugin folder %s is %s", path, dir, why)
		}
		if why := checkChain(dir, path); why != "" {
			return nil, fmt.Errorf("%s: %s", path, why)
		}
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	info, err := f.Stat()
	if err == nil {
		if why := checkExecutable(info); why != "" {
			err = fmt.Errorf("%s: %s", path, why)
		}
	}
	if err == nil && checksum != nil {
		h := sha256.New()
		if _, err = io.Copy(h, io.NewSectionReader(f, 0, info.Size())); err == nil &&
			subtle.ConstantTimeCompare(h.Sum(nil), checksum) != 1 {
			// The digest is SHA256SUMS's as the folder was last read: a
			// restart after the list changed or went checks the file against it.
			err = fmt.Errorf("%s: checksum does not match SHA256SUMS (as it was when the folder was read)", path)
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
