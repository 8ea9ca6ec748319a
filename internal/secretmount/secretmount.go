// Package secretmount lays files out in a folder as Kubernetes mounts a
// Secret, for tests of what reads them: each name is a link to ..data/name,
// and ..data a link to a folder of the version, which the kubelet swaps by
// making a new folder and renaming a new ..data link over the old one.
package secretmount

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Mount is a Secret's folder.
type Mount struct {
	// Dir is the folder the files are named in.
	Dir     string
	version int
}

// New mounts files (name to content) in a new folder of the test's.
func New(t testing.TB, files map[string]string) *Mount {
	t.Helper()
	m := &Mount{Dir: t.TempDir()}
	m.Update(t, files)
	for name := range files {
		if err := os.Symlink(filepath.Join("..data", name), filepath.Join(m.Dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// Update swaps in a new version of the files, as the kubelet does: all at once.
func (m *Mount) Update(t testing.TB, files map[string]string) {
	t.Helper()
	m.version++
	version := fmt.Sprintf("..2026_12_07_%02d", m.version)
	if err := os.Mkdir(filepath.Join(m.Dir, version), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, value := range files {
		if err := os.WriteFile(filepath.Join(m.Dir, version, name), []byte(value), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tmp := filepath.Join(m.Dir, "..data_tmp")
	if err := os.Symlink(version, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(m.Dir, "..data")); err != nil {
		t.Fatal(err)
	}
}
