package catalog

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// SupportSuffix ends the name of a plugin family's support folder: plugins named
// <family>-<rest> (logto-github, logto-google) share <family>-bundle beside their
// files, and the digest list <family>-bundle.sha256.
const SupportSuffix = "-bundle"

// Support is the support folder of a plugin family, as found beside a plugin file.
// Both fields are "" when the family has none.
type Support struct {
	Dir  string // <family>-bundle
	Sums string // <family>-bundle.sha256, when present
	// PluginSums is the SHA256SUMS beside the plugin file, when present: digests
	// only, which the family's code checks its digest list against.
	PluginSums string
}

// Family is the part of a plugin name before its first "-", or "" for a name
// without one.
func Family(name string) string {
	family, _, ok := strings.Cut(name, "-")
	if !ok {
		return ""
	}
	return family
}

// FindSupport looks for the support folder of plugin name beside its file at path
// (as Scan resolved it, so inside the plugin folder and already checked on the way
// there) and checks it like plugin files are checked: the folder, the digest list
// and everything inside must be owned by root or idplug's user and writable by
// neither group nor others, and hold only folders and regular files (a link could
// lead anywhere). Whoever could change the folder could choose what the plugin runs.
func FindSupport(path, name string) (Support, error) {
	family := Family(name)
	if family == "" {
		return Support{}, nil
	}
	dir := filepath.Join(filepath.Dir(path), family+SupportSuffix)
	info, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return Support{}, nil
	}
	if err != nil {
		return Support{}, fmt.Errorf("support folder %s: %w", dir, err)
	}
	if !info.IsDir() {
		return Support{}, fmt.Errorf("support folder %s is not a folder (%v)", dir, info.Mode().Type())
	}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if !info.IsDir() && !info.Mode().IsRegular() {
			return fmt.Errorf("%s is not a folder or a regular file (%v)", p, info.Mode().Type())
		}
		if why := untrusted(info); why != "" {
			return fmt.Errorf("%s is %s", p, why)
		}
		return nil
	})
	if err != nil {
		return Support{}, fmt.Errorf("support folder of plugin %s: %w", name, err)
	}
	s := Support{Dir: dir}
	sums := dir + ".sha256"
	switch info, err := os.Lstat(sums); {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return Support{}, fmt.Errorf("support digest list %s: %w", sums, err)
	case !info.Mode().IsRegular():
		return Support{}, fmt.Errorf("support digest list %s is not a regular file (%v)", sums, info.Mode().Type())
	default:
		if why := untrusted(info); why != "" {
			return Support{}, fmt.Errorf("support digest list %s is %s", sums, why)
		}
		s.Sums = sums
	}
	if info, err := os.Lstat(filepath.Join(filepath.Dir(path), SumsFile)); err == nil && info.Mode().IsRegular() {
		s.PluginSums = filepath.Join(filepath.Dir(path), SumsFile)
	}
	return s, nil
}
