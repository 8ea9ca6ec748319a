package sandbox

import (
	"debug/elf"
	"encoding/binary"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// elfBytes is a minimal 64-bit ELF executable: no code, and a PT_INTERP
// program header naming interp when interp is not "". The package reads only
// its headers, which is all these tests need: nothing here is run.
func elfBytes(interp string) []byte {
	const ehsize, phentsize = 64, 56
	le := binary.LittleEndian
	h := make([]byte, ehsize)
	copy(h, "\x7fELF")
	h[4], h[5], h[6] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)
	le.PutUint16(h[16:], uint16(elf.ET_EXEC))
	le.PutUint16(h[18:], uint16(elf.EM_X86_64))
	le.PutUint32(h[20:], uint32(elf.EV_CURRENT))
	le.PutUint16(h[52:], ehsize)
	le.PutUint16(h[54:], phentsize)
	le.PutUint16(h[58:], 64)
	if interp == "" {
		return h
	}
	le.PutUint64(h[32:], ehsize) // e_phoff
	le.PutUint16(h[56:], 1)      // e_phnum
	str := append([]byte(interp), 0)
	ph := make([]byte, phentsize)
	le.PutUint32(ph[0:], uint32(elf.PT_INTERP))
	le.PutUint32(ph[4:], uint32(elf.PF_R))
	le.PutUint64(ph[8:], ehsize+phentsize) // p_offset
	le.PutUint64(ph[32:], uint64(len(str)))
	le.PutUint64(ph[40:], uint64(len(str)))
	le.PutUint64(ph[48:], 1)
	return append(append(h, ph...), str...)
}

// writeFile writes data at path with mode (umask aside) and returns path.
func writeFile(t *testing.T, path string, data []byte, mode os.FileMode) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

// mkdir makes a folder with exactly mode and returns its path.
func mkdir(t *testing.T, path string, mode os.FileMode) string {
	t.Helper()
	if err := os.MkdirAll(path, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

// pluginFolder is a new plugin folder, mode 0755.
func pluginFolder(t *testing.T) string {
	t.Helper()
	return mkdir(t, filepath.Join(t.TempDir(), "plugins"), 0o755)
}

// plugin writes a plugin file named name into dir with content data.
func plugin(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	return writeFile(t, filepath.Join(dir, "idplug-connector-"+name), data, 0o755)
}

// fullReport is what a kernel with everything gives under mode.
func fullReport(mode Mode) Report {
	return Assess(Policy{Mode: mode}, Support{LandlockABI: abiScopes, Seccomp: true, Namespaces: true})
}

// commandFor runs Command for the plugin file at path and returns the command
// and the launcher's spec, decoded from the environment the command carries.
func commandFor(t *testing.T, path, name string, p Policy, r Report, env ...string) (*exec.Cmd, Spec, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	socketDir := mkdir(t, filepath.Join(t.TempDir(), "socket"), 0o700)
	cmd, err := Command(Launch{Policy: p, Report: r, Name: name, File: f, Path: path, SocketDir: socketDir, Env: env})
	if err != nil {
		return nil, Spec{}, err
	}
	var spec Spec
	found := 0
	for _, kv := range cmd.Environ() {
		if raw, ok := strings.CutPrefix(kv, envLaunch+"="); ok {
			found++
			if err := json.Unmarshal([]byte(raw), &spec); err != nil {
				t.Fatal(err)
			}
		}
	}
	if found != 1 {
		t.Fatalf("the launcher's environment carries %d specs, want 1", found)
	}
	return cmd, spec, nil
}

// TestCommandModeRules: which restrictions the launcher is told to apply, by
// mode and by what the kernel has; and the refusal of mode required.
func TestCommandModeRules(t *testing.T) {
	dir := pluginFolder(t)
	path := plugin(t, dir, "oauth2", elfBytes(""))
	cases := []struct {
		name                        string
		report                      Report
		refused                     string
		landlock, seccomp, required bool
		confined                    bool // read, write and exec lists are given
	}{
		{"auto on a full kernel applies both", fullReport(ModeAuto), "", true, true, false, true},
		{"required on a full kernel applies both, strictly", fullReport(ModeRequired), "", true, true, true, true},
		{"auto without seccomp applies Landlock alone", Assess(Policy{}, Support{LandlockABI: 6}), "", true, false, false, true},
		{"auto without Landlock applies seccomp alone", Assess(Policy{}, Support{Seccomp: true}), "", false, true, false, true},
		{"off applies nothing and lists nothing", fullReport(ModeOff), "", false, false, false, false},
		{"hostile: required on a kernel lacking scopes refuses the start", Assess(Policy{Mode: ModeRequired}, Support{LandlockABI: 5, Seccomp: true}),
			"sandbox mode is required, but this kernel cannot apply: " + FeatureScopes, false, false, false, false},
		{"hostile: required without seccomp refuses the start", Assess(Policy{Mode: ModeRequired}, Support{LandlockABI: 7}),
			FeatureSeccomp, false, false, false, false},
		{"hostile: an unknown mode refuses the start, naming the mode", Assess(Policy{Mode: "strict"}, Support{LandlockABI: 7, Seccomp: true}),
			`sandbox mode "strict" is not one of auto, required, off`, false, false, false, false},
		{"hostile: a misspelt required refuses the start, even on a kernel lacking everything", Assess(Policy{Mode: "requried"}, Support{}),
			`sandbox mode "requried"`, false, false, false, false},
		{"hostile: a report of an unknown mode refuses the start", Report{Mode: "Off"}, `sandbox mode "Off"`, false, false, false, false},
		{"hostile: a lone * key refuses the start", Assess(Policy{Read: map[string][]string{"*": {"/etc"}}}, Support{LandlockABI: 7, Seccomp: true}),
			`sandbox read key "*" names every plugin`, false, false, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cmd, spec, err := commandFor(t, path, "oauth2", Policy{}, c.report)
			if c.refused != "" {
				if err == nil || !strings.Contains(err.Error(), c.refused) || cmd != nil {
					t.Fatalf("err = %v, cmd %v; want a refusal naming %q", err, cmd, c.refused)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if spec.Landlock != c.landlock || spec.Seccomp != c.seccomp || spec.Required != c.required {
				t.Errorf("spec landlock %v seccomp %v required %v", spec.Landlock, spec.Seccomp, spec.Required)
			}
			if got := len(spec.Read) > 0 && len(spec.Write) > 0; got != c.confined {
				t.Errorf("read %q write %q, want lists %v", spec.Read, spec.Write, c.confined)
			}
			// Whatever the mode, the launcher runs the verified file, with the
			// path as its argv[0].
			if len(cmd.ExtraFiles) != 1 || cmd.ExtraFiles[0].Name() != path || !slices.Equal(spec.Args, []string{path}) {
				t.Errorf("extra files %v, args %q", cmd.ExtraFiles, spec.Args)
			}
			if cmd.Path != "/proc/self/exe" {
				t.Errorf("the launcher is %s, not the host's own binary", cmd.Path)
			}
		})
	}
}

// TestOwnFileRules: what a plugin with no sandbox entries and no family gets:
// the system's read paths, its socket folder to write, its own loader to run;
// not its folder, its path, other plugins, the libraries of a static file.
func TestOwnFileRules(t *testing.T) {
	loader := writeFile(t, filepath.Join(t.TempDir(), "ld.so"), elfBytes(""), 0o755)
	cases := []struct {
		name       string
		data       []byte
		wantExec   []string
		libraries  bool
		keepFD     bool
		wantErrSub string
	}{
		{"a static plugin runs nothing else and reads no libraries", elfBytes(""), nil, false, false, ""},
		{"a dynamic plugin runs its loader and reads the libraries", elfBytes(loader), []string{loader}, true, false, ""},
		{"a script runs its interpreter, keeps its file open", []byte("#!" + loader + " -x\nexit 0\n"), []string{loader}, true, true, ""},
		{"hostile: a script whose interpreter is missing does not start", []byte("#!/nonexistent/interp\n"), nil, false, false, "script interpreter"},
		{"hostile: a script with an empty #! line does not start", []byte("#!   \n"), nil, false, false, "names no interpreter"},
		{"hostile: a file that is neither ELF nor script does not start", []byte("MZ\x90\x00 not a program"), nil, false, false, "reading the executable"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := pluginFolder(t)
			path := plugin(t, dir, "oauth2", c.data)
			plugin(t, dir, "github", elfBytes(""))
			writeFile(t, filepath.Join(dir, "SHA256SUMS"), []byte("x  idplug-connector-oauth2\n"), 0o644)
			_, spec, err := commandFor(t, path, "oauth2", Policy{}, fullReport(ModeAuto))
			if c.wantErrSub != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErrSub) {
					t.Fatalf("err = %v, want %q", err, c.wantErrSub)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(spec.Exec, c.wantExec) {
				t.Errorf("exec %q, want %q", spec.Exec, c.wantExec)
			}
			for _, p := range systemReadPaths {
				if !slices.Contains(spec.Read, p) {
					t.Errorf("read lacks %s", p)
				}
			}
			if got := slices.Contains(spec.Read, "/usr/lib"); got != c.libraries {
				t.Errorf("libraries readable %v, want %v", got, c.libraries)
			}
			if slices.Contains(spec.Read, "/sys/fs/cgroup") {
				t.Error("a plugin that starts no program reads the cgroup limits")
			}
			if spec.KeepFD != c.keepFD {
				t.Errorf("KeepFD %v, want %v", spec.KeepFD, c.keepFD)
			}
			if len(spec.Write) != 1 || filepath.Base(spec.Write[0]) != "socket" {
				t.Errorf("write %q, want the socket folder alone", spec.Write)
			}
			// Hostile: neither the plugin folder, its listing, the plugin's own
			// path (it reads itself through its descriptor), another plugin nor
			// the folder's SHA256SUMS (no family) is granted.
			for _, p := range slices.Concat(spec.Read, spec.Exec, spec.Write) {
				if p == dir || strings.HasPrefix(p, dir+"/") || p == filepath.Dir(dir) {
					t.Errorf("granted %s, in or above the plugin folder", p)
				}
			}
		})
	}
}

// TestReadEntryRules: sandbox.read entries are read-only: they never become
// writable or executable, and only the plugins they are keyed for get them.
func TestReadEntryRules(t *testing.T) {
	dir := pluginFolder(t)
	data := mkdir(t, filepath.Join(t.TempDir(), "data"), 0o755)
	p := Policy{Read: map[string][]string{"logto-*": {data}, "oauth2": {"/srv/oauth2"}}}
	cases := []struct {
		name   string
		plugin string
		want   []string
		absent []string
	}{
		{"a prefix key gives its paths", "logto-github", []string{data}, []string{"/srv/oauth2"}},
		{"a name key gives its paths, even missing ones (the launcher skips them)", "oauth2", []string{"/srv/oauth2"}, []string{data}},
		{"hostile: a plugin matching no key gets none", "github", nil, []string{data, "/srv/oauth2"}},
		{"hostile: logto-* does not cover logtox-a", "logtox-a", nil, []string{data}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := plugin(t, dir, c.plugin, elfBytes(""))
			_, spec, err := commandFor(t, path, c.plugin, p, fullReport(ModeAuto))
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range c.want {
				if !slices.Contains(spec.Read, w) {
					t.Errorf("read %q lacks %s", spec.Read, w)
				}
			}
			for _, a := range c.absent {
				if slices.Contains(spec.Read, a) {
					t.Errorf("read has %s", a)
				}
			}
			for _, r := range slices.Concat(c.want, c.absent) {
				if slices.Contains(spec.Write, r) || slices.Contains(spec.Exec, r) {
					t.Errorf("read entry %s became writable or executable: write %q exec %q", r, spec.Write, spec.Exec)
				}
			}
		})
	}
}

// TestSupportFolderRules: a plugin named <family>-<rest> gets <family>-bundle
// beside its file (execute), its digest list and the folder's SHA256SUMS
// (read), and the loaders of the bundle's ELF files; nobody else gets them.
func TestSupportFolderRules(t *testing.T) {
	loader := writeFile(t, filepath.Join(t.TempDir(), "ld-bundle.so"), elfBytes(""), 0o755)
	interp := writeFile(t, filepath.Join(t.TempDir(), "interp"), elfBytes(""), 0o755)
	dir := pluginFolder(t)
	bundle := mkdir(t, filepath.Join(dir, "fam-bundle"), 0o755)
	writeFile(t, filepath.Join(bundle, "node"), elfBytes(loader), 0o755)
	writeFile(t, filepath.Join(bundle, "lib", "deep", "helper"), elfBytes(loader), 0o755)
	writeFile(t, filepath.Join(bundle, "cli.js"), []byte("#!"+interp+"\n"), 0o755)
	writeFile(t, filepath.Join(bundle, "data.json"), []byte("{}"), 0o644)
	sums := writeFile(t, filepath.Join(dir, "fam-bundle.sha256"), []byte("x  node\n"), 0o644)
	pluginSums := writeFile(t, filepath.Join(dir, "SHA256SUMS"), []byte("x  idplug-connector-fam-a\n"), 0o644)
	otherBundle := mkdir(t, filepath.Join(dir, "other-bundle"), 0o755)
	famxBundle := mkdir(t, filepath.Join(dir, "famx-bundle"), 0o755)
	subBundle := mkdir(t, filepath.Join(dir, "fam-sub-bundle"), 0o755)
	dotBundle := mkdir(t, filepath.Join(dir, "..-bundle"), 0o755)
	cases := []struct {
		name       string
		plugin     string
		wantBundle string
	}{
		{"fam-a gets fam-bundle", "fam-a", bundle},
		{"the family is the text before the first dash", "fam-sub-a", bundle},
		{"hostile: a name without a dash has no family", "fam", ""},
		{"hostile: famx-a does not get fam-bundle", "famx-a", famxBundle},
		{"hostile: other-a gets only its own family's folder", "other-a", otherBundle},
		{"hostile: a family of dots names a folder beside the file, not the parent", "..-x", dotBundle},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := plugin(t, dir, c.plugin, elfBytes(""))
			_, spec, err := commandFor(t, path, c.plugin, Policy{}, fullReport(ModeAuto))
			if err != nil {
				t.Fatal(err)
			}
			// Exactly one support folder, the family's own, is executable.
			for _, b := range []string{bundle, otherBundle, famxBundle, subBundle, dotBundle} {
				if got := slices.Contains(spec.Exec, b); got != (b == c.wantBundle) {
					t.Errorf("exec has %s: %v, want %v", b, got, b == c.wantBundle)
				}
			}
			for _, p := range slices.Concat(spec.Read, spec.Exec) {
				if p == dir || p == filepath.Dir(dir) || (strings.HasPrefix(p, dir+"/") && p != c.wantBundle && !strings.HasPrefix(p, c.wantBundle+".") && p != pluginSums) {
					t.Errorf("granted %s", p)
				}
			}
			if slices.Contains(spec.Write, c.wantBundle) {
				t.Error("the support folder is writable")
			}
			// SHA256SUMS comes with a support folder, whichever family's.
			if got := slices.Contains(spec.Read, pluginSums); got != (c.wantBundle != "") {
				t.Errorf("SHA256SUMS readable %v, want %v", got, c.wantBundle != "")
			}
			if c.wantBundle != bundle {
				if slices.Contains(spec.Read, sums) || slices.Contains(spec.Exec, loader) {
					t.Errorf("a plugin of another family reads fam's digest list or runs its loader: read %q exec %q", spec.Read, spec.Exec)
				}
				return
			}
			if !slices.Contains(spec.Read, sums) {
				t.Errorf("read %q lacks the bundle's digest list", spec.Read)
			}
			if !slices.Contains(spec.Exec, loader) {
				t.Errorf("exec %q lacks the loader of the bundle's ELF files", spec.Exec)
			}
			// Hostile: a script in the bundle does not make its interpreter runnable.
			if slices.Contains(spec.Exec, interp) {
				t.Errorf("exec %q has the interpreter a bundle script names", spec.Exec)
			}
			for _, p := range append(slices.Clone(libraryPaths), childReadPaths...) {
				if !slices.Contains(spec.Read, p) {
					t.Errorf("read lacks %s, needed by the programs the plugin starts", p)
				}
			}
		})
	}
}

// TestSupportFolderTrustRules: whoever could change a support folder could
// choose what its plugins run, so a folder that is not the host's, or that
// holds anything but folders and regular files, refuses the start of its
// family's plugins, with an error naming the path.
func TestSupportFolderTrustRules(t *testing.T) {
	secretDir := mkdir(t, filepath.Join(t.TempDir(), "elsewhere"), 0o755)
	secret := writeFile(t, filepath.Join(secretDir, "session.key"), []byte("key"), 0o600)
	cases := []struct {
		name    string
		setup   func(t *testing.T, dir, bundle string) string // returns the path the error must name
		errSub  string
		root    bool // needs root to set up
		allowed bool
	}{
		{"a clean folder is accepted", func(t *testing.T, dir, bundle string) string { return "" }, "", false, true},
		{"hostile: a world-writable folder", func(t *testing.T, dir, bundle string) string {
			mkdir(t, bundle, 0o777)
			return bundle
		}, "writable by other users", false, false},
		{"hostile: a group-writable folder", func(t *testing.T, dir, bundle string) string {
			mkdir(t, bundle, 0o775)
			return bundle
		}, "writable by its group", false, false},
		{"hostile: a world-writable file deep inside", func(t *testing.T, dir, bundle string) string {
			return writeFile(t, filepath.Join(bundle, "node_modules", "x", "index.js"), []byte("x"), 0o646)
		}, "writable by other users", false, false},
		{"hostile: a group-writable subfolder", func(t *testing.T, dir, bundle string) string {
			return mkdir(t, filepath.Join(bundle, "node_modules"), 0o775)
		}, "writable by its group", false, false},
		{"hostile: a link inside the folder leading out", func(t *testing.T, dir, bundle string) string {
			link := filepath.Join(bundle, "key")
			if err := os.Symlink(secret, link); err != nil {
				t.Fatal(err)
			}
			return link
		}, "not a folder or a regular file", false, false},
		{"hostile: a link to .. inside the folder", func(t *testing.T, dir, bundle string) string {
			link := filepath.Join(bundle, "up")
			if err := os.Symlink("..", link); err != nil {
				t.Fatal(err)
			}
			return link
		}, "not a folder or a regular file", false, false},
		{"hostile: the folder itself is a link to a clean folder", func(t *testing.T, dir, bundle string) string {
			if err := os.RemoveAll(bundle); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(secretDir, bundle); err != nil {
				t.Fatal(err)
			}
			return bundle
		}, "is not a folder", false, false},
		{"hostile: the folder is a file", func(t *testing.T, dir, bundle string) string {
			if err := os.RemoveAll(bundle); err != nil {
				t.Fatal(err)
			}
			return writeFile(t, bundle, []byte("x"), 0o755)
		}, "is not a folder", false, false},
		{"hostile: a named pipe inside", func(t *testing.T, dir, bundle string) string {
			p := filepath.Join(bundle, "fifo")
			if err := unix.Mkfifo(p, 0o644); err != nil {
				t.Fatal(err)
			}
			return p
		}, "not a folder or a regular file", false, false},
		{"hostile: a file owned by another account", func(t *testing.T, dir, bundle string) string {
			p := writeFile(t, filepath.Join(bundle, "node"), elfBytes(""), 0o755)
			if err := os.Lchown(p, 65534, 65534); err != nil {
				t.Fatal(err)
			}
			return p
		}, "owned by uid 65534", true, false},
		{"hostile: a world-writable digest list", func(t *testing.T, dir, bundle string) string {
			return writeFile(t, bundle+".sha256", []byte("x"), 0o666)
		}, "writable by other users", false, false},
		{"hostile: a digest list that is a link", func(t *testing.T, dir, bundle string) string {
			if err := os.Symlink(secret, bundle+".sha256"); err != nil {
				t.Fatal(err)
			}
			return bundle + ".sha256"
		}, "is not a regular file", false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.root && os.Geteuid() != 0 {
				t.Skip("giving a file to another account needs root")
			}
			dir := pluginFolder(t)
			bundle := mkdir(t, filepath.Join(dir, "fam-bundle"), 0o755)
			writeFile(t, filepath.Join(bundle, "bridge.mjs"), []byte("x"), 0o644)
			named := c.setup(t, dir, bundle)
			path := plugin(t, dir, "fam-a", elfBytes(""))
			_, spec, err := commandFor(t, path, "fam-a", Policy{}, fullReport(ModeAuto))
			if c.allowed {
				if err != nil || !slices.Contains(spec.Exec, bundle) {
					t.Fatalf("err = %v, exec %q", err, spec.Exec)
				}
				return
			}
			if err == nil {
				t.Fatalf("the start was not refused; exec %q read %q", spec.Exec, spec.Read)
			}
			if !strings.Contains(err.Error(), c.errSub) || !strings.Contains(err.Error(), named) {
				t.Errorf("err = %v, want %q naming %s", err, c.errSub, named)
			}
			// Another family is unaffected by a bad folder that is not its own.
			other := plugin(t, dir, "github", elfBytes(""))
			if _, _, err := commandFor(t, other, "github", Policy{}, fullReport(ModeAuto)); err != nil {
				t.Errorf("a plugin without a family: %v", err)
			}
		})
	}
}

// TestSupportPluginSumsRules: the folder's SHA256SUMS is given only as a
// regular file; a link in its place is not followed.
func TestSupportPluginSumsRules(t *testing.T) {
	secret := writeFile(t, filepath.Join(t.TempDir(), "session.key"), []byte("key"), 0o600)
	cases := []struct {
		name  string
		setup func(t *testing.T, sums string)
		given bool
	}{
		{"a regular SHA256SUMS is readable", func(t *testing.T, sums string) { writeFile(t, sums, []byte("x\n"), 0o644) }, true},
		{"no SHA256SUMS, nothing given", func(t *testing.T, sums string) {}, false},
		{"hostile: SHA256SUMS as a link to a key file is not given", func(t *testing.T, sums string) {
			if err := os.Symlink(secret, sums); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"hostile: SHA256SUMS as a folder is not given", func(t *testing.T, sums string) { mkdir(t, sums, 0o755) }, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := pluginFolder(t)
			mkdir(t, filepath.Join(dir, "fam-bundle"), 0o755)
			sums := filepath.Join(dir, "SHA256SUMS")
			c.setup(t, sums)
			path := plugin(t, dir, "fam-a", elfBytes(""))
			_, spec, err := commandFor(t, path, "fam-a", Policy{}, fullReport(ModeAuto))
			if err != nil {
				t.Fatal(err)
			}
			if got := slices.Contains(spec.Read, sums); got != c.given {
				t.Errorf("SHA256SUMS readable %v, want %v", got, c.given)
			}
			if slices.Contains(spec.Read, secret) {
				t.Error("the link's target is readable")
			}
		})
	}
}

// TestExecEntryRules: sandbox.exec entries make files, or the executable files
// of folders, runnable with their loaders (and, for these operator entries, a
// script's interpreter); what is missing or not executable refuses the start.
func TestExecEntryRules(t *testing.T) {
	tools := t.TempDir()
	loader := writeFile(t, filepath.Join(tools, "lib", "ld.so"), elfBytes(""), 0o755)
	interp := writeFile(t, filepath.Join(tools, "interp"), elfBytes(loader), 0o755)
	tool := writeFile(t, filepath.Join(tools, "bin", "tool"), elfBytes(loader), 0o755)
	script := writeFile(t, filepath.Join(tools, "bin", "run.sh"), []byte("#!"+interp+" -e\n"), 0o755)
	static := writeFile(t, filepath.Join(tools, "static", "tool"), elfBytes(""), 0o755)
	folder := mkdir(t, filepath.Join(tools, "folder"), 0o755)
	folderLoader := writeFile(t, filepath.Join(tools, "folder-ld.so"), elfBytes(""), 0o755)
	writeFile(t, filepath.Join(folder, "sub", "prog"), elfBytes(folderLoader), 0o755)
	// Not executable: its loader is not needed.
	unusedLoader := filepath.Join(tools, "unused-ld.so")
	writeFile(t, filepath.Join(folder, "data.bin"), elfBytes(unusedLoader), 0o644)
	// A link inside the folder leads to an ELF elsewhere: not one of the folder's programs.
	outsideLoader := filepath.Join(tools, "outside-ld.so")
	outside := writeFile(t, filepath.Join(t.TempDir(), "outside"), elfBytes(outsideLoader), 0o755)
	if err := os.Symlink(outside, filepath.Join(folder, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Dir(outside), filepath.Join(folder, "linkdir")); err != nil {
		t.Fatal(err)
	}
	// Executable data that is neither ELF nor script: nothing more to grant.
	writeFile(t, filepath.Join(folder, "notes.txt"), []byte("hello"), 0o755)
	dir := pluginFolder(t)
	cases := []struct {
		name    string
		entries map[string][]string
		plugin  string
		want    []string // in Exec
		absent  []string // not in Exec
		errSub  []string // when the start is refused: substrings of the error
	}{
		{"a file entry runs with its loader", map[string][]string{"bridge": {tool}}, "bridge", []string{tool, loader}, nil, nil},
		{"a script entry runs with its interpreter and the interpreter's loader", map[string][]string{"bridge": {script}},
			"bridge", []string{script, interp, loader}, nil, nil},
		{"a static file entry needs no loader", map[string][]string{"bridge": {static}}, "bridge", []string{static}, []string{loader}, nil},
		{"a folder entry runs its executable files, nested ones too, with their loaders", map[string][]string{"bridge": {folder}},
			"bridge", []string{folder, folderLoader}, []string{unusedLoader}, nil},
		{"hostile: a link in an exec folder does not bring its target's loader", map[string][]string{"bridge": {folder}},
			"bridge", []string{folder}, []string{outside, outsideLoader}, nil},
		{"a prefix key gives its entries", map[string][]string{"bridge-*": {tool}}, "bridge-node", []string{tool, loader}, nil, nil},
		{"hostile: an entry keyed for another plugin is not given", map[string][]string{"bridge": {tool}}, "oauth2", nil, []string{tool, loader}, nil},
		{"hostile: a prefix does not cover a longer family name", map[string][]string{"bridge-*": {tool}}, "bridgex-node", nil, []string{tool}, nil},
		{"hostile: a missing entry refuses the start, naming it", map[string][]string{"bridge": {filepath.Join(tools, "missing")}},
			"bridge", nil, nil, []string{"sandbox exec path", filepath.Join(tools, "missing")}},
		{"hostile: a file without an execute bit refuses the start", map[string][]string{"bridge": {filepath.Join(folder, "data.bin")}},
			"bridge", nil, nil, []string{filepath.Join(folder, "data.bin"), "not an executable file"}},
		{"hostile: a device refuses the start", map[string][]string{"bridge": {"/dev/null"}},
			"bridge", nil, nil, []string{"/dev/null", "not an executable file"}},
		{"hostile: an entry path through .. is checked where it leads", map[string][]string{"bridge": {filepath.Join(tools, "bin", "..", "missing")}},
			"bridge", nil, nil, []string{"missing", "no such file"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := plugin(t, dir, c.plugin, elfBytes(""))
			_, spec, err := commandFor(t, path, c.plugin, Policy{Exec: c.entries}, fullReport(ModeAuto))
			if c.errSub != nil {
				if err == nil {
					t.Fatalf("the start was not refused; exec %q", spec.Exec)
				}
				for _, s := range c.errSub {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("err = %v, want it to contain %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range c.want {
				if !slices.Contains(spec.Exec, w) {
					t.Errorf("exec %q lacks %s", spec.Exec, w)
				}
			}
			for _, a := range c.absent {
				if slices.Contains(spec.Exec, a) {
					t.Errorf("exec %q has %s", spec.Exec, a)
				}
			}
			if !slices.IsSorted(spec.Exec) || len(slices.Compact(slices.Clone(spec.Exec))) != len(spec.Exec) {
				t.Errorf("exec %q is not sorted and without duplicates", spec.Exec)
			}
			startsPrograms := len(c.want) > 0
			for _, p := range childReadPaths {
				if slices.Contains(spec.Read, p) != startsPrograms {
					t.Errorf("read has %s: %v, want %v", p, !startsPrograms, startsPrograms)
				}
			}
			for _, p := range spec.Exec {
				if slices.Contains(spec.Write, p) {
					t.Errorf("%s is both writable and executable", p)
				}
			}
		})
	}
}

// TestPluginUserRules: with plugin_user, the launcher runs under that account
// with no supplementary groups, and the plugin's socket folder becomes its.
func TestPluginUserRules(t *testing.T) {
	dir := pluginFolder(t)
	path := plugin(t, dir, "oauth2", elfBytes(""))
	t.Run("no plugin user: the host's own account", func(t *testing.T) {
		cmd, _, err := commandFor(t, path, "oauth2", Policy{}, fullReport(ModeAuto))
		if err != nil {
			t.Fatal(err)
		}
		if cmd.SysProcAttr != nil && cmd.SysProcAttr.Credential != nil {
			t.Errorf("credential %+v without a plugin user", cmd.SysProcAttr.Credential)
		}
	})
	u := &User{Name: "nobody", UID: 65534, GID: 65534}
	t.Run("a plugin user sets uid, gid and drops every group", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("handing the socket folder to another account needs root")
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		socketDir := mkdir(t, filepath.Join(t.TempDir(), "socket"), 0o700)
		cmd, err := Command(Launch{Policy: Policy{User: u}, Report: fullReport(ModeAuto), Name: "oauth2", File: f, Path: path, SocketDir: socketDir})
		if err != nil {
			t.Fatal(err)
		}
		// With a private root the launcher builds it as root, then becomes the
		// user itself (setgroups, setgid, setuid) before anything else.
		if c := cmd.SysProcAttr.Credential; c != nil {
			t.Fatalf("credential %+v: the launcher could not build the root", c)
		}
		var spec Spec
		for _, kv := range cmd.Env {
			if raw, ok := strings.CutPrefix(kv, envLaunch+"="); ok {
				if err := json.Unmarshal([]byte(raw), &spec); err != nil {
					t.Fatal(err)
				}
			}
		}
		if !spec.Root || spec.UID != 65534 || spec.GID != 65534 {
			t.Fatalf("spec %+v", spec)
		}
		// Without one (a kernel or container that makes no namespace), the
		// launcher starts as the user.
		noRoot := fullReport(ModeAuto)
		noRoot.Applied = slices.DeleteFunc(slices.Clone(noRoot.Applied), func(f string) bool { return f == FeatureRoot || f == FeatureEgress })
		cmd, err = Command(Launch{Policy: Policy{User: u}, Report: noRoot, Name: "oauth2", File: f, Path: path, SocketDir: socketDir})
		if err != nil {
			t.Fatal(err)
		}
		c := cmd.SysProcAttr.Credential
		if c == nil || c.Uid != 65534 || c.Gid != 65534 || len(c.Groups) != 0 || c.NoSetGroups {
			t.Fatalf("credential %+v", c)
		}
		var st syscall.Stat_t
		if err := syscall.Stat(socketDir, &st); err != nil {
			t.Fatal(err)
		}
		if st.Uid != 65534 || st.Gid != 65534 {
			t.Errorf("socket folder owned by %d:%d, want the plugin user", st.Uid, st.Gid)
		}
	})
	t.Run("hostile: a socket folder that cannot be handed over refuses the start", func(t *testing.T) {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		missing := filepath.Join(t.TempDir(), "gone")
		cmd, err := Command(Launch{Policy: Policy{User: u}, Report: fullReport(ModeAuto), Name: "oauth2", File: f, Path: path, SocketDir: missing})
		if err == nil || cmd != nil || !strings.Contains(err.Error(), "plugin_user nobody") {
			t.Errorf("err = %v", err)
		}
	})
}

// TestLookupUserRules: plugin_user names an unprivileged account, by name or
// uid, and only a host running as root may have one.
func TestLookupUserRules(t *testing.T) {
	if os.Geteuid() != 0 {
		for _, name := range []string{"nobody", "65534", "root", "0"} {
			if _, err := LookupUser(name); err == nil || !strings.Contains(err.Error(), "not root") {
				t.Errorf("%s, as uid %d: err = %v", name, os.Geteuid(), err)
			}
		}
		t.Skip("the remaining rules need a host running as root")
	}
	if _, err := LookupUser("nobody"); err != nil {
		t.Skipf("this system has no nobody account: %v", err)
	}
	cases := []struct {
		name     string
		in       string
		wantName string
		errSub   string
	}{
		{"a user name resolves", "nobody", "nobody", ""},
		{"a numeric uid resolves, to the account's name", "65534", "nobody", ""},
		{"hostile: root by name is refused", "root", "", "is root"},
		{"hostile: root by uid is refused", "0", "", "is root"},
		{"hostile: an unknown name is an error naming it", "no-such-user-x", "", `plugin_user "no-such-user-x"`},
		{"hostile: an unknown uid is an error naming it", "4294967", "", `plugin_user "4294967"`},
		{"hostile: an empty name is an error", "", "", `plugin_user ""`},
		{"hostile: a path-like name is not an account", "../root", "", `plugin_user "../root"`},
		{"hostile: root's uid with a sign is still root", "+0", "", "is root"},
		{"hostile: root's uid with a leading zero is still root", "00", "", "is root"},
		{"hostile: root's uid as -0 is still root", "-0", "", "is root"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u, err := LookupUser(c.in)
			if c.errSub != "" {
				if err == nil || !strings.Contains(err.Error(), c.errSub) {
					t.Fatalf("LookupUser(%q) = %+v, %v; want an error with %q", c.in, u, err, c.errSub)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if u.Name != c.wantName || u.UID == 0 {
				t.Errorf("LookupUser(%q) = %+v", c.in, u)
			}
		})
	}
}

// TestLaunchEnvRules: the plugin gets only the environment the caller gives
// (never the host's), and the launcher's spec cannot be replaced from it.
func TestLaunchEnvRules(t *testing.T) {
	dir := pluginFolder(t)
	path := plugin(t, dir, "oauth2", elfBytes(""))
	t.Setenv("IDPLUG_TEST_HOST_ONLY", "host-secret")
	forged := envLaunch + `={"args":["/bin/sh"]}`
	cmd, spec, err := commandFor(t, path, "oauth2", Policy{}, fullReport(ModeRequired), "PLUGIN_MIN_PORT=1", forged)
	if err != nil {
		t.Fatal(err)
	}
	env := cmd.Environ()
	if slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "IDPLUG_TEST_HOST_ONLY=") }) {
		t.Error("the host's environment reached the launcher")
	}
	if !slices.Contains(env, "PLUGIN_MIN_PORT=1") {
		t.Errorf("env %q lacks what the caller gave", env)
	}
	// Hostile: a spec smuggled in the plugin's environment loses to the host's.
	if !spec.Landlock || !spec.Required || !slices.Equal(spec.Args, []string{path}) {
		t.Errorf("the launcher would read the forged spec: %+v", spec)
	}
	// The launcher hands the plugin its environment without any spec.
	cases := []struct {
		name string
		in   []string
		want []string
	}{
		{"the spec is removed", []string{"A=1", envLaunch + "={}", "B=2"}, []string{"A=1", "B=2"}},
		{"hostile: every copy of the spec is removed", []string{envLaunch + "={}", "A=1", envLaunch + "=x"}, []string{"A=1"}},
		{"a variable that only starts like it stays", []string{envLaunch + "_X=1", "X" + envLaunch + "=2"}, []string{envLaunch + "_X=1", "X" + envLaunch + "=2"}},
		{"nothing to remove", nil, []string{}},
		{"the plugin's GODEBUG gets its name back", []string{envPluginGodebug + "=schedtrace=1", "A=1"}, []string{"GODEBUG=schedtrace=1", "A=1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := pluginEnv(c.in); !slices.Equal(got, c.want) {
				t.Errorf("pluginEnv(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

// TestLauncherRunsWithGosDefaults: the plugin's GODEBUG (the runtime's monitor
// kept awake, internal/sysmon) is not the launcher's, whose outer step lives as
// long as the plugin; it reaches the plugin at the last exec.
func TestLauncherRunsWithGosDefaults(t *testing.T) {
	dir := pluginFolder(t)
	path := plugin(t, dir, "oauth2", elfBytes(""))
	cmd, _, err := commandFor(t, path, "oauth2", Policy{}, fullReport(ModeRequired), "GODEBUG=schedtrace=2147483647")
	if err != nil {
		t.Fatal(err)
	}
	env := cmd.Environ()
	if slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "GODEBUG=") }) {
		t.Errorf("the launcher starts with the plugin's GODEBUG: %q", env)
	}
	if got := pluginEnv(withoutLaunch(env)); !slices.Contains(got, "GODEBUG=schedtrace=2147483647") {
		t.Errorf("the plugin would not get its GODEBUG: %q", got)
	}
}

// TestLaunchSpecRefused: a launcher given a spec it cannot read does nothing
// but return the error (it never runs the plugin unconfined).
func TestLaunchSpecRefused(t *testing.T) {
	cases := []struct {
		name, raw, errSub string
	}{
		{"hostile: not JSON", "{", "bad spec"},
		{"hostile: no args", `{"landlock":true}`, "no args"},
		{"hostile: empty args", `{"args":[]}`, "no args"},
		{"hostile: args of the wrong type", `{"args":"/bin/sh"}`, "bad spec"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := launch(c.raw); err == nil || !strings.Contains(err.Error(), c.errSub) {
				t.Errorf("launch(%q) = %v, want %q", c.raw, err, c.errSub)
			}
		})
	}
}
