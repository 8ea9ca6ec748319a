package catalog

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The folder rules, on temporary folders. The host's tests run the same rules
// through real plugin processes (host/refusal_test.go).

// put writes a file with exactly mode (whatever the umask), making its folder.
func put(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func link(t *testing.T, target, path string) {
	t.Helper()
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
}

func sumLine(content, file string) string {
	d := sha256.Sum256([]byte(content))
	return hex.EncodeToString(d[:]) + "  " + file + "\n"
}

// byFile finds the entry for file, or fails.
func byFile(t *testing.T, entries []Entry, file string) Entry {
	t.Helper()
	for _, e := range entries {
		if e.File == file {
			return e
		}
	}
	t.Fatalf("no entry for %s in %v", file, entries)
	return Entry{}
}

func names(ps []Plugin) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return out
}

// TestScanSortsTheFolder puts one file of each kind in a folder and checks
// which run, which are refused (with the reason) and which are ignored.
func TestScanSortsTheFolder(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	put(t, filepath.Join(dir, Prefix+"good"), "good", 0o755)
	put(t, filepath.Join(dir, Prefix+"owner-only"), "x", 0o700)
	put(t, filepath.Join(dir, "README.md"), "docs", 0o644)
	put(t, filepath.Join(dir, "run-me"), "x", 0o755)
	put(t, filepath.Join(dir, Prefix+"Bad_Name"), "x", 0o755)
	put(t, filepath.Join(dir, Prefix+"-dash"), "x", 0o755)
	put(t, filepath.Join(dir, Prefix+"noexec"), "x", 0o644)
	put(t, filepath.Join(dir, Prefix+"groupw"), "x", 0o775)
	put(t, filepath.Join(dir, Prefix+"otherw"), "x", 0o757)
	if err := os.Mkdir(filepath.Join(dir, Prefix+"folder"), 0o755); err != nil {
		t.Fatal(err)
	}
	put(t, filepath.Join(outside, "evil"), "evil", 0o755)
	link(t, filepath.Join(outside, "evil"), filepath.Join(dir, Prefix+"outside"))
	link(t, "../"+filepath.Base(outside)+"/evil", filepath.Join(dir, Prefix+"relative-outside"))
	put(t, filepath.Join(dir, "versions", "v2", "real"), "v2", 0o755)
	link(t, "versions/v2/real", filepath.Join(dir, Prefix+"inside"))
	put(t, filepath.Join(dir, "shared", "real"), "x", 0o755)
	if err := os.Chmod(filepath.Join(dir, "shared"), 0o777); err != nil {
		t.Fatal(err)
	}
	link(t, "shared/real", filepath.Join(dir, Prefix+"via-open-folder"))
	link(t, "nowhere", filepath.Join(dir, Prefix+"dangling"))
	link(t, "versions", filepath.Join(dir, Prefix+"to-folder"))

	res, err := Scan(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(res.Plugins); !slices.Equal(got, []string{"good", "inside", "owner-only"}) {
		t.Fatalf("plugins = %v; refused %v", got, res.Refused)
	}
	for _, p := range res.Plugins {
		if p.Dir != res.Dir || filepath.Dir(p.Path) == "" || p.File != Prefix+p.Name || p.Checksum != nil {
			t.Errorf("plugin %+v", p)
		}
	}
	if p := res.Plugins[1]; p.Path != filepath.Join(res.Dir, "versions", "v2", "real") {
		t.Errorf("a link inside the folder runs its target: Path = %s", p.Path)
	}

	for file, reason := range map[string]string{
		"noexec":           "not executable (mode -rw-r--r--)",
		"groupw":           "writable by its group (mode -rwxrwxr-x)",
		"otherw":           "writable by other users (mode -rwxr-xrwx)",
		"folder":           "not a regular file",
		"outside":          "outside the plugin folder",
		"relative-outside": "outside the plugin folder",
		"via-open-folder":  "through folder " + filepath.Join(res.Dir, "shared") + " that is writable by other users",
		"dangling":         "cannot resolve",
		"to-folder":        "not a regular file",
	} {
		if e := byFile(t, res.Refused, Prefix+file); !strings.Contains(e.Reason, reason) {
			t.Errorf("%s refused for %q, want %q", file, e.Reason, reason)
		}
	}
	if len(res.Refused) != 9 {
		t.Errorf("refused = %v", res.Refused)
	}

	for file, reason := range map[string]string{
		"README.md":         "name does not start with " + Prefix,
		"run-me":            "name does not start with " + Prefix,
		"versions":          "name does not start with " + Prefix,
		Prefix + "Bad_Name": "name after " + Prefix + " must match",
		Prefix + "-dash":    "name after " + Prefix + " must match",
	} {
		if e := byFile(t, res.Ignored, file); !strings.Contains(e.Reason, reason) {
			t.Errorf("%s ignored for %q, want %q", file, e.Reason, reason)
		}
	}
	if !slices.IsSortedFunc(res.Ignored, func(a, b Entry) int { return strings.Compare(a.File, b.File) }) {
		t.Errorf("ignored entries are not sorted: %v", res.Ignored)
	}
}

// TestScanFileOwnedByAnotherUser: a file someone else owns may be replaced by them.
func TestScanFileOwnedByAnotherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("giving a file to another user needs root")
	}
	dir := t.TempDir()
	put(t, filepath.Join(dir, Prefix+"foreign"), "x", 0o755)
	if err := os.Chown(filepath.Join(dir, Prefix+"foreign"), 4242, 4242); err != nil {
		t.Fatal(err)
	}
	res, err := Scan(dir)
	if err != nil {
		t.Fatal(err)
	}
	if e := byFile(t, res.Refused, Prefix+"foreign"); !strings.Contains(e.Reason, "owned by uid 4242, neither root nor the user idplug runs as") {
		t.Errorf("reason = %q", e.Reason)
	}
}

// TestScanWithSums: with SHA256SUMS, a file runs only when listed, carrying its
// digest; a listed file that is missing is reported.
func TestScanWithSums(t *testing.T) {
	dir := t.TempDir()
	put(t, filepath.Join(dir, Prefix+"listed"), "listed", 0o755)
	put(t, filepath.Join(dir, Prefix+"unlisted"), "unlisted", 0o755)
	put(t, filepath.Join(dir, SumsFile), sumLine("listed", Prefix+"listed")+"# a comment\n\n"+
		sumLine("gone", Prefix+"gone"), 0o644)
	res, err := Scan(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(res.Plugins); !slices.Equal(got, []string{"listed"}) {
		t.Fatalf("plugins = %v; refused %v", got, res.Refused)
	}
	want := sha256.Sum256([]byte("listed"))
	if !slices.Equal(res.Plugins[0].Checksum, want[:]) {
		t.Errorf("checksum = %x", res.Plugins[0].Checksum)
	}
	if e := byFile(t, res.Refused, Prefix+"unlisted"); e.Reason != "not listed in SHA256SUMS" {
		t.Errorf("unlisted: %q", e.Reason)
	}
	if e := byFile(t, res.Ignored, Prefix+"gone"); e.Reason != "SHA256SUMS lists it, but the file is missing" {
		t.Errorf("gone: %q", e.Reason)
	}
	for _, e := range append(res.Refused, res.Ignored...) {
		if e.File == SumsFile {
			t.Errorf("SHA256SUMS itself is reported: %v", e)
		}
	}
}

// TestScanRefusesTheFolder: a folder, or a SHA256SUMS, that cannot be trusted
// stops the scan with an error naming it.
func TestScanRefusesTheFolder(t *testing.T) {
	for name, tc := range map[string]struct {
		setup func(t *testing.T, dir string) string // returns the folder to scan
		want  string
	}{
		"missing": {func(t *testing.T, dir string) string { return filepath.Join(dir, "nope") }, "no such file"},
		"a file": {func(t *testing.T, dir string) string {
			put(t, filepath.Join(dir, "f"), "x", 0o755)
			return filepath.Join(dir, "f")
		}, "is not a directory"},
		"writable by others": {func(t *testing.T, dir string) string {
			must(t, os.Chmod(dir, 0o777))
			return dir
		}, "writable by other users (mode -rwxrwxrwx): refusing to run anything from it"},
		"writable by its group": {func(t *testing.T, dir string) string {
			must(t, os.Chmod(dir, 0o770))
			return dir
		}, "writable by its group"},
		"inside a folder everyone may write": {func(t *testing.T, dir string) string {
			must(t, os.Chmod(dir, 0o777))
			must(t, os.Mkdir(filepath.Join(dir, "plugins"), 0o755))
			return filepath.Join(dir, "plugins")
		}, "which every account may write without the sticky bit (mode -rwxrwxrwx)"},
		"inside a folder another account owns": {func(t *testing.T, dir string) string {
			if os.Geteuid() != 0 {
				t.Skip("needs root to give a folder to another account")
			}
			must(t, os.Mkdir(filepath.Join(dir, "plugins"), 0o755))
			must(t, os.Chown(dir, 4242, 4242)) // it could rename plugins away and put its own there
			return filepath.Join(dir, "plugins")
		}, "owned by uid 4242, neither root nor the user idplug runs as"},
		"sums writable by others": {func(t *testing.T, dir string) string {
			put(t, filepath.Join(dir, SumsFile), "", 0o666)
			return dir
		}, SumsFile + " is writable by other users"},
		"sums a link": {func(t *testing.T, dir string) string {
			put(t, filepath.Join(dir, "sums"), "", 0o644)
			link(t, "sums", filepath.Join(dir, SumsFile))
			return dir
		}, SumsFile + " is not a regular file"},
		"sums malformed": {func(t *testing.T, dir string) string {
			put(t, filepath.Join(dir, SumsFile), "abc  "+Prefix+"x\n", 0o644)
			return dir
		}, "line 1: want"},
		"sums lists a path": {func(t *testing.T, dir string) string {
			put(t, filepath.Join(dir, SumsFile), sumLine("x", "../"+Prefix+"x"), 0o644)
			return dir
		}, "list file names only"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := tc.setup(t, t.TempDir())
			res, err := Scan(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Scan = %v, %v; want an error with %q", res, err, tc.want)
			}
		})
	}
}

// TestScanAcceptsAStickyParent: a folder inside a world-writable parent with
// the sticky bit (like /tmp) is fine: nobody else may rename it.
func TestScanAcceptsAStickyParent(t *testing.T) {
	parent := t.TempDir()
	must(t, os.Chmod(parent, 0o777|os.ModeSticky))
	dir := filepath.Join(parent, "plugins")
	must(t, os.Mkdir(dir, 0o755))
	if _, err := Scan(dir); err != nil {
		t.Fatal(err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestOpenChecksAgain: what Scan accepted is checked again on the descriptor that
// runs, so a change after the scan is caught.
func TestOpenChecksAgain(t *testing.T) {
	scanOne := func(t *testing.T, dir string) Plugin {
		t.Helper()
		res, err := Scan(dir)
		if err != nil || len(res.Plugins) != 1 {
			t.Fatalf("Scan = %+v, %v", res, err)
		}
		return res.Plugins[0]
	}
	t.Run("unchanged", func(t *testing.T) {
		dir := t.TempDir()
		put(t, filepath.Join(dir, Prefix+"a"), "a", 0o755)
		put(t, filepath.Join(dir, SumsFile), sumLine("a", Prefix+"a"), 0o644)
		p := scanOne(t, dir)
		f, err := Open(p.Dir, p.Path, p.Checksum)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	})
	t.Run("content replaced", func(t *testing.T) {
		dir := t.TempDir()
		put(t, filepath.Join(dir, Prefix+"a"), "a", 0o755)
		put(t, filepath.Join(dir, SumsFile), sumLine("a", Prefix+"a"), 0o644)
		p := scanOne(t, dir)
		put(t, p.Path, "b", 0o755)
		if _, err := Open(p.Dir, p.Path, p.Checksum); err == nil || !strings.Contains(err.Error(), "checksum does not match SHA256SUMS") {
			t.Fatalf("Open = %v", err)
		}
	})
	t.Run("made writable", func(t *testing.T) {
		dir := t.TempDir()
		put(t, filepath.Join(dir, Prefix+"a"), "a", 0o755)
		p := scanOne(t, dir)
		must(t, os.Chmod(p.Path, 0o777))
		if _, err := Open(p.Dir, p.Path, nil); err == nil || !strings.Contains(err.Error(), "writable by other users") {
			t.Fatalf("Open = %v", err)
		}
	})
	t.Run("swapped for a link", func(t *testing.T) {
		dir := t.TempDir()
		put(t, filepath.Join(dir, Prefix+"a"), "a", 0o755)
		p := scanOne(t, dir)
		evil := filepath.Join(t.TempDir(), "evil")
		put(t, evil, "evil", 0o755)
		must(t, os.Remove(p.Path))
		link(t, evil, p.Path)
		if f, err := Open(p.Dir, p.Path, nil); err == nil {
			f.Close()
			t.Fatal("Open followed a link put in place of the plugin")
		}
	})
	t.Run("folder opened up", func(t *testing.T) {
		dir := t.TempDir()
		put(t, filepath.Join(dir, "v1", "real"), "a", 0o755)
		link(t, "v1/real", filepath.Join(dir, Prefix+"a"))
		p := scanOne(t, dir)
		must(t, os.Chmod(filepath.Join(dir, "v1"), 0o777))
		if _, err := Open(p.Dir, p.Path, nil); err == nil || !strings.Contains(err.Error(), "through folder") {
			t.Fatalf("Open = %v", err)
		}
	})
}
