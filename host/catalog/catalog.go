// Package catalog finds plugin executables in a plugin folder and decides which ones
// may run: the right name, a regular executable file inside the folder, trusted as
// sshd's StrictModes trusts a file (it, a link's target and every folder from the
// plugin folder down to it owned by root or idplug's user and writable by nobody
// else), and listed with a matching digest in SHA256SUMS when that file exists.
package catalog

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/idplug/idplug/internal/wire"
)

// Prefix starts the file name of every plugin executable.
const Prefix = wire.PluginFilePrefix

// SumsFile is the optional checksum list in the plugin folder, as sha256sum prints it.
const SumsFile = "SHA256SUMS"

var nameRE = wire.PluginNameRE

// Plugin is an executable that passed every check.
type Plugin struct {
	// Name is the file name without the prefix, for example "oauth2".
	Name string
	// File is the file name in the folder; Path is the resolved file to execute,
	// inside Dir, the resolved plugin folder.
	File string
	Path string
	Dir  string
	// Checksum is the SHA-256 digest SHA256SUMS lists for the file; nil without SHA256SUMS.
	// The digest is checked again right before every launch.
	Checksum []byte
}

// Entry is a file of the folder that is not run, and why.
type Entry struct {
	File   string `json:"file"`
	Reason string `json:"reason"`
}

// Result is what a scan found.
type Result struct {
	Dir     string
	Plugins []Plugin
	// Refused are files named like plugins that failed a check: an operator must act.
	Refused []Entry
	// Ignored are files that are not plugins at all.
	Ignored []Entry
	// Support are the support folders of plugin families and their digest
	// lists (see FindSupport): not plugins, but not stray files either.
	Support []Entry
}

// Scan checks the plugin folder dir. It fails only when the folder itself cannot be
// used; a bad plugin file is reported in Result.Refused and never stops the others.
func Scan(dir string) (*Result, error) {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, fmt.Errorf("plugin folder %s: %w", dir, err)
	}
	real, err = filepath.Abs(real)
	if err != nil {
		return nil, fmt.Errorf("plugin folder %s: %w", dir, err)
	}
	info, err := os.Stat(real)
	if err != nil {
		return nil, fmt.Errorf("plugin folder %s: %w", dir, err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("plugin folder %s is not a directory", dir)
	}
	if why := untrusted(info); why != "" {
		return nil, fmt.Errorf("plugin folder %s is %s: refusing to run anything from it", dir, why)
	}
	if why := checkParents(real); why != "" {
		return nil, fmt.Errorf("plugin folder %s is %s: refusing to run anything from it", dir, why)
	}
	sums, err := readSums(real)
	if err != nil {
		return nil, err
	}

	entries, err := os.ReadDir(real)
	if err != nil {
		return nil, fmt.Errorf("plugin folder %s: %w", dir, err)
	}
	res := &Result{Dir: real}
	for _, e := range entries {
		file := e.Name()
		switch {
		case file == SumsFile:
			continue
		case !strings.HasPrefix(file, Prefix):
			res.Ignored = append(res.Ignored, Entry{file, "name does not start with " + Prefix})
			continue
		case !nameRE.MatchString(strings.TrimPrefix(file, Prefix)):
			res.Ignored = append(res.Ignored, Entry{file, fmt.Sprintf("name after %s must match %s", Prefix, nameRE)})
			continue
		}
		p, reason := check(real, file, sums)
		if reason != "" {
			res.Refused = append(res.Refused, Entry{file, reason})
			continue
		}
		res.Plugins = append(res.Plugins, p)
	}
	// A file SHA256SUMS lists that is not there usually means a half-done deployment.
	for file := range sums {
		if _, err := os.Lstat(filepath.Join(real, file)); errors.Is(err, fs.ErrNotExist) {
			res.Ignored = append(res.Ignored, Entry{file, SumsFile + " lists it, but the file is missing"})
		}
	}
	res.Ignored, res.Support = splitSupport(res.Ignored, res.Plugins)
	sort.Slice(res.Ignored, func(i, j int) bool { return res.Ignored[i].File < res.Ignored[j].File })
	return res, nil
}

// check applies the per-file rules and returns the plugin, or why it is refused.
func check(dir, file string, sums map[string][]byte) (Plugin, string) {
	path := filepath.Join(dir, file)
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return Plugin{}, fmt.Sprintf("cannot resolve: %v", err)
	}
	if rel, err := filepath.Rel(dir, real); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return Plugin{}, fmt.Sprintf("resolves to %s, outside the plugin folder", real)
	}
	if why := checkChain(dir, real); why != "" {
		return Plugin{}, why
	}
	info, err := os.Stat(real)
	if err != nil {
		return Plugin{}, err.Error()
	}
	if why := checkExecutable(info); why != "" {
		return Plugin{}, why
	}
	p := Plugin{Name: strings.TrimPrefix(file, Prefix), File: file, Path: real, Dir: dir}
	if sums != nil {
		sum, ok := sums[file]
		if !ok {
			return Plugin{}, "not listed in " + SumsFile
		}
		p.Checksum = sum
	}
	return p, ""
}

// splitSupport takes out of ignored the support folder (<family>-bundle) and
// digest list of each family that has a plugin here.
func splitSupport(ignored []Entry, plugins []Plugin) (rest, support []Entry) {
	families := map[string]bool{}
	for _, p := range plugins {
		if f := Family(p.Name); f != "" {
			families[f] = true
		}
	}
	for _, e := range ignored {
		name := strings.TrimSuffix(e.File, ".sha256")
		family, ok := strings.CutSuffix(name, SupportSuffix)
		if ok && families[family] && !strings.HasSuffix(e.Reason, "the file is missing") {
			what := "support folder"
			if name != e.File {
				what = "digest list of the support folder"
			}
			support = append(support, Entry{e.File, fmt.Sprintf("%s of the %s-* plugins", what, family)})
			continue
		}
		rest = append(rest, e)
	}
	return rest, support
}
