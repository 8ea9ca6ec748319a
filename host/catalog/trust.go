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

	"github.com/idplug/idplug/internal/folderrisk"
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
// absolute path), up to /: whoever may rename one (another account that owns
// it, or may write it without the sticky bit) could put a plugin folder of
// their own in its place, so it is refused, as sshd refuses such a path. /tmp
// (root's, sticky) passes.
func checkParents(dir string) string {
	switch p, why, err := folderrisk.Above(dir); {
	case err != nil:
		return fmt.Sprintf("its parent %s cannot be checked: %v", p, err)
	case why != "":
		return fmt.Sprintf("inside %s, %s: another account could put another folder in its place; keep it in folders of idplug's or root's", p, why)
	}
	return ""
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
