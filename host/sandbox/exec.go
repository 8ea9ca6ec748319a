package sandbox

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/idplug/idplug/host/catalog"
)

// childReadPaths are read by a program a plugin starts (Node, for one) to learn
// its limits: the cgroup's CPU and memory caps. Reading them tells nothing about
// other processes' data.
var childReadPaths = []string{"/sys/fs/cgroup"}

// ForPlugin collects the entries of m that apply to plugin name: its own key, and
// every key ending in "*" whose text before the "*" starts name ("logto-*"). A
// lone "*" applies to none (Policy.Check refuses it).
func ForPlugin(m map[string][]string, name string) []string {
	var keys []string
	for k := range m {
		prefix, wild := strings.CutSuffix(k, "*")
		if k == name || (wild && prefix != "" && strings.HasPrefix(name, prefix)) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys) // the same rules in the same order every start
	var out []string
	for _, k := range keys {
		out = append(out, m[k]...)
	}
	return out
}

// Narrowing is ForPlugin for a map whose keys narrow something down: the
// entries for name, and whether any key names it at all (an empty list then
// allows nothing).
func Narrowing(m map[string][]string, name string) ([]string, bool) {
	named := false
	for k := range m {
		prefix, wild := strings.CutSuffix(k, "*")
		if k == name || (wild && prefix != "" && strings.HasPrefix(name, prefix)) {
			named = true
		}
	}
	return ForPlugin(m, name), named
}

// extras is what a plugin may execute besides its own file.
type extras struct {
	grant    []string // files and folders the plugin may read and execute
	read     []string // further read-only files (a support folder's digest list)
	programs []string // the executable files among grant, whose loaders are needed too
	scripts  []bool   // per program: whether a #! interpreter outside the grant is given too
}

// extraExecutables gathers the plugin's sandbox.exec entries and its family's
// support folder (see catalog.FindSupport), which is granted without configuration.
func extraExecutables(l Launch) (extras, error) {
	var x extras
	sup, err := catalog.FindSupport(l.Path, l.Name)
	if err != nil {
		return x, err
	}
	add := func(p string, operator bool) error {
		progs, err := executablesAt(p)
		if err != nil {
			return err
		}
		x.grant = append(x.grant, p)
		for _, prog := range progs {
			x.programs = append(x.programs, prog)
			x.scripts = append(x.scripts, operator)
		}
		return nil
	}
	for _, p := range ForPlugin(l.Policy.Exec, l.Name) {
		if err := add(p, true); err != nil {
			return x, fmt.Errorf("sandbox exec path %s: %w", p, err)
		}
	}
	if sup.Dir != "" {
		// Only ELF loaders for the support folder: a script's "#!/usr/bin/env"
		// must not turn a system program into something the plugin may run.
		if err := add(sup.Dir, false); err != nil {
			return x, fmt.Errorf("support folder %s: %w", sup.Dir, err)
		}
	}
	for _, f := range []string{sup.Sums, sup.PluginSums} {
		if f != "" {
			x.read = append(x.read, f)
		}
	}
	return x, nil
}

// executablesAt lists the regular files with an execute bit at p: p itself, or
// those inside the folder p.
func executablesAt(p string) ([]string, error) {
	info, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		if !info.Mode().IsRegular() || info.Mode().Perm()&0o111 == 0 {
			return nil, fmt.Errorf("not an executable file (mode %v)", info.Mode())
		}
		return []string{p}, nil
	}
	var out []string
	err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if info, err := d.Info(); err == nil && info.Mode().Perm()&0o111 != 0 {
			out = append(out, path)
		}
		return nil
	})
	return out, err
}

// runtimeFilesAt is runtimeFiles for the file at path; without scripts, only an
// ELF file's loader counts.
func runtimeFilesAt(path string, scripts bool) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if !scripts && !isELF(f) {
		return nil, nil
	}
	files, err := runtimeFiles(f)
	if err != nil && !isELF(f) {
		// Not ELF and no #! line: the kernel will not run it either.
		return nil, nil
	}
	return files, err
}

// isELF is true when f starts with the ELF magic number.
func isELF(f *os.File) bool {
	head := make([]byte, 4)
	n, _ := f.ReadAt(head, 0)
	return n == 4 && string(head) == "\x7fELF"
}

// UnmatchedKeys lists the keys of p's per-plugin settings (read, exec,
// egress_allow) that name no plugin of names, as "egress_allow.githib": a
// misspelt egress_allow key narrows nothing, so the plugin it meant keeps
// every host its metadata declares. A key ending in "*" matches a prefix.
func UnmatchedKeys(p Policy, names []string) []string {
	var out []string
	for _, entries := range []struct {
		name string
		m    map[string][]string
	}{{"read", p.Read}, {"exec", p.Exec}, {"egress_allow", p.EgressAllow}} {
		for k := range entries.m {
			if !slices.ContainsFunc(names, func(n string) bool { _, named := Narrowing(map[string][]string{k: nil}, n); return named }) {
				out = append(out, entries.name+"."+k)
			}
		}
	}
	slices.Sort(out)
	return out
}
