package catalog

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// supportLayout makes a plugin folder with fam-a's file, a fam-bundle support folder
// with an executable, its digest list, and SHA256SUMS.
func supportLayout(t *testing.T) (dir, plugin string) {
	t.Helper()
	dir = t.TempDir()
	plugin = filepath.Join(dir, Prefix+"fam-a")
	for path, mode := range map[string]os.FileMode{
		plugin: 0o755, filepath.Join(dir, "fam-bundle", "bin", "run"): 0o755,
		filepath.Join(dir, "fam-bundle", "lib.js"): 0o644, filepath.Join(dir, "fam-bundle.sha256"): 0o644,
		filepath.Join(dir, SumsFile): 0o644,
	} {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("x"), mode); err != nil {
			t.Fatal(err)
		}
	}
	return dir, plugin
}

func TestFindSupport(t *testing.T) {
	dir, plugin := supportLayout(t)
	s, err := FindSupport(plugin, "fam-a")
	if err != nil {
		t.Fatal(err)
	}
	want := Support{Dir: filepath.Join(dir, "fam-bundle"), Sums: filepath.Join(dir, "fam-bundle.sha256"), PluginSums: filepath.Join(dir, SumsFile)}
	if s != want {
		t.Errorf("got %+v; want %+v", s, want)
	}
	// No family, or a family without a folder: nothing, and no error.
	for _, name := range []string{"fam", "other-a"} {
		if s, err := FindSupport(filepath.Join(dir, Prefix+name), name); err != nil || s != (Support{}) {
			t.Errorf("%s: %+v, %v", name, s, err)
		}
	}
}

// TestFindSupportRefuses: whatever someone else could change, or a link that could
// lead out of the folder, refuses the family's plugins.
func TestFindSupportRefuses(t *testing.T) {
	cases := map[string]struct {
		change func(dir string) error
		want   string
	}{
		"group-writable file":   {func(dir string) error { return os.Chmod(filepath.Join(dir, "fam-bundle", "lib.js"), 0o664) }, "writable by its group"},
		"other-writable folder": {func(dir string) error { return os.Chmod(filepath.Join(dir, "fam-bundle", "bin"), 0o757) }, "writable by other users"},
		"link inside": {func(dir string) error {
			return os.Symlink("/etc/passwd", filepath.Join(dir, "fam-bundle", "passwd"))
		}, "not a folder or a regular file"},
		"folder is a link": {func(dir string) error {
			if err := os.Rename(filepath.Join(dir, "fam-bundle"), filepath.Join(dir, "elsewhere")); err != nil {
				return err
			}
			return os.Symlink(filepath.Join(dir, "elsewhere"), filepath.Join(dir, "fam-bundle"))
		}, "is not a folder"},
		"digest list writable": {func(dir string) error { return os.Chmod(filepath.Join(dir, "fam-bundle.sha256"), 0o646) }, "writable by other users"},
		"digest list is a link": {func(dir string) error {
			p := filepath.Join(dir, "fam-bundle.sha256")
			if err := os.Remove(p); err != nil {
				return err
			}
			return os.Symlink("/etc/shadow", p)
		}, "not a regular file"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			dir, plugin := supportLayout(t)
			if err := c.change(dir); err != nil {
				t.Fatal(err)
			}
			_, err := FindSupport(plugin, "fam-a")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v; want %q", err, c.want)
			}
		})
	}
}

// BenchmarkFindSupport checks a support folder the size of the Logto bundle (about
// 4,000 files and folders), which every start of one of its plugins pays.
func BenchmarkFindSupport(b *testing.B) {
	dir := b.TempDir()
	plugin := filepath.Join(dir, Prefix+"fam-a")
	for i := range 400 {
		sub := filepath.Join(dir, "fam-bundle", "node_modules", "pkg"+strconv.Itoa(i))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			b.Fatal(err)
		}
		for j := range 9 {
			if err := os.WriteFile(filepath.Join(sub, strconv.Itoa(j)+".js"), []byte("x"), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	for b.Loop() {
		if _, err := FindSupport(plugin, "fam-a"); err != nil {
			b.Fatal(err)
		}
	}
}
