package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/landlock-lsm/go-landlock/landlock"
	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
)

// TestLandlockConfigRules: at every ABI, everything Landlock can restrict on
// the file system and in scopes is handled; of the network, TCP bind alone
// (plugins connect out); mode required gets no best-effort fallback.
func TestLandlockConfigRules(t *testing.T) {
	last := len(presets) - 1
	cases := []struct {
		name     string
		abi      int
		spec     Spec
		wantABI  int
		bestEff  bool
		bindOnly bool // HandledAccessNet is exactly TCP bind
	}{
		{"ABI 1: the file system only", 1, Spec{}, 1, true, false},
		{"ABI 3: the file system only", 3, Spec{}, 3, true, false},
		{"ABI 4: TCP bind is handled", 4, Spec{}, 4, true, true},
		{"ABI 6: scopes are handled", 6, Spec{}, 6, true, true},
		{"ABI 7", 7, Spec{}, 7, true, true},
		{"required is strict", 7, Spec{Required: true}, 7, false, true},
		{"an ABI limit caps the preset", 7, Spec{ABILimit: 3}, 3, true, false},
		{"hostile: an ABI limit above the kernel does not raise it", 4, Spec{ABILimit: 7}, 4, true, true},
		{"hostile: a negative ABI limit is no limit", 6, Spec{ABILimit: -2}, 6, true, true},
		{"hostile: a kernel newer than the presets uses the newest", last + 5, Spec{}, last, true, true},
		{"hostile: at the newest ABI, TCP connect and UDP stay unhandled", last, Spec{}, last, true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, _ := ruleset(c.abi, c.spec)
			want := presets[c.wantABI]
			if cfg.HandledAccessFS != want.HandledAccessFS {
				t.Errorf("HandledAccessFS = %v, want the ABI %d preset's %v", cfg.HandledAccessFS, c.wantABI, want.HandledAccessFS)
			}
			if cfg.Scoped != want.Scoped {
				t.Errorf("Scoped = %v, want %v", cfg.Scoped, want.Scoped)
			}
			// Independently of the presets: scopes from ABI 6, the basic file
			// rights from ABI 1.
			wantScoped := landlock.ScopedSet(0)
			if c.wantABI >= abiScopes {
				wantScoped = ll.ScopeSignal | ll.ScopeAbstractUnixSocket
			}
			if cfg.Scoped != wantScoped {
				t.Errorf("Scoped = %v at ABI %d, want %v", cfg.Scoped, c.wantABI, wantScoped)
			}
			basic := landlock.AccessFSSet(ll.AccessFSExecute | ll.AccessFSWriteFile | ll.AccessFSReadFile | ll.AccessFSReadDir | ll.AccessFSMakeReg | ll.AccessFSMakeSym)
			if cfg.HandledAccessFS&basic != basic {
				t.Errorf("HandledAccessFS = %v lacks %v", cfg.HandledAccessFS, basic)
			}
			wantNet := landlock.AccessNetSet(0)
			if c.bindOnly {
				wantNet = ll.AccessNetBindTCP
			}
			if cfg.HandledAccessNet != wantNet {
				t.Errorf("HandledAccessNet = %v, want %v", cfg.HandledAccessNet, wantNet)
			}
			if cfg.HandledAccessNet&ll.AccessNetConnectTCP != 0 {
				t.Error("outbound TCP is restricted: a plugin could not reach its provider")
			}
			if got := cfg == cfg.BestEffort(); got != c.bestEff {
				t.Errorf("best effort %v, want %v", got, c.bestEff)
			}
		})
	}
}

// TestLandlockPathRules: which rights each path of a spec gets. Read folders
// may be listed, read files only read (Landlock refuses folder rights on a
// file), missing read paths are left out, exec folders may be listed and run,
// exec files run; the plugin's own file runs through its descriptor.
func TestLandlockPathRules(t *testing.T) {
	tmp := t.TempDir()
	readDir := mkdir(t, filepath.Join(tmp, "data"), 0o755)
	readFile := writeFile(t, filepath.Join(tmp, "ca.pem"), []byte("x"), 0o644)
	linkToDir := filepath.Join(tmp, "link-to-data")
	if err := os.Symlink(readDir, linkToDir); err != nil {
		t.Fatal(err)
	}
	linkToFile := filepath.Join(tmp, "link-to-ca")
	if err := os.Symlink(readFile, linkToFile); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(tmp, "missing")
	execDir := mkdir(t, filepath.Join(tmp, "bundle"), 0o755)
	execFile := writeFile(t, filepath.Join(tmp, "ld.so"), elfBytes(""), 0o755)
	socketDir := mkdir(t, filepath.Join(tmp, "socket"), 0o700)
	spec := Spec{
		Read:  []string{readDir, readFile, linkToDir, linkToFile, missing},
		Exec:  []string{execDir, execFile, filepath.Join(tmp, "missing-loader")},
		Write: []string{socketDir},
		Args:  []string{"/x"},
	}
	_, rules := ruleset(7, spec)
	rights := map[string]string{} // path -> the rights of the rule naming it
	for _, r := range rules {
		s := fmt.Sprint(r) // "REQUIRE {rights} for paths [p1 p2]"
		acc, paths, ok := strings.Cut(strings.TrimPrefix(s, "REQUIRE "), " for paths [")
		if !ok {
			t.Fatalf("unexpected rule %q", s)
		}
		for _, p := range strings.Fields(strings.TrimSuffix(paths, "]")) {
			if prev, dup := rights[p]; dup {
				t.Errorf("%s is in two rules: %s and %s", p, prev, acc)
			}
			rights[p] = acc
		}
	}
	cases := []struct {
		name string
		path string
		want string // "" for no rule at all
	}{
		{"the plugin's file runs through its descriptor", "/proc/self/fd/3", "{execute,read_file}"},
		{"its own /proc entries are readable", "/proc/self", "{read_file,read_dir}"},
		{"/dev/null is readable and writable", "/dev/null", "{write_file,read_file}"},
		{"a read folder may be read and listed", readDir, "{read_file,read_dir}"},
		{"a read file may be read", readFile, "{read_file}"},
		{"a link to a folder is read as a folder", linkToDir, "{read_file,read_dir}"},
		{"hostile: a link to a file gets no folder rights", linkToFile, "{read_file}"},
		{"hostile: a missing read path gets no rule", missing, ""},
		{"an exec folder may be listed and its files run", execDir, "{execute,read_file,read_dir}"},
		{"an exec file may run", execFile, "{execute,read_file}"},
		{"a missing exec file keeps its rule (the start fails)", filepath.Join(tmp, "missing-loader"), "{execute,read_file}"},
		{"hostile: the folder above everything gets no rule", tmp, ""},
		{"hostile: / gets no rule", "/", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := rights[c.path]; got != c.want {
				t.Errorf("%s: %q, want %q", c.path, got, c.want)
			}
		})
	}
	t.Run("the socket folder is writable", func(t *testing.T) {
		got := rights[socketDir]
		for _, r := range []string{"write_file", "read_file", "make_sock", "remove_file", "make_dir", "remove_dir"} {
			if !strings.Contains(got, r) {
				t.Errorf("socket folder rights %s lack %s", got, r)
			}
		}
	})
	t.Run("hostile: nothing in the socket folder may run", func(t *testing.T) {
		// A plugin writes its socket folder: were it executable too, the plugin
		// could copy itself (or anything it downloads) there and run it.
		got := rights[socketDir]
		for _, r := range []string{"execute", "make_char", "make_block", "make_fifo", "make_sym", "refer", "ioctl_dev"} {
			if strings.Contains(got, r) {
				t.Errorf("socket folder rights %s include %s", got, r)
			}
		}
	})
	t.Run("hostile: read and exec entries never become writable", func(t *testing.T) {
		for p, acc := range rights {
			if p == socketDir || p == "/dev/null" {
				continue
			}
			for _, w := range []string{"write_file", "make_", "remove_", "truncate"} {
				if strings.Contains(acc, w) {
					t.Errorf("%s: %s includes %s", p, acc, w)
				}
			}
		}
	})
	t.Run("hostile: nothing in the rules names a path the spec does not", func(t *testing.T) {
		fixed := []string{"/proc/self/fd/3", "/proc/self", "/dev/null"}
		for p := range rights {
			if !slices.Contains(fixed, p) && !slices.Contains(spec.Read, p) && !slices.Contains(spec.Exec, p) && !slices.Contains(spec.Write, p) {
				t.Errorf("a rule names %s", p)
			}
		}
	})
}

// TestSocketFolderRuleAtEveryABI: at every Landlock ABI the socket folder's
// rule keeps what go-plugin needs (make and remove the Unix socket, read and
// write files), never grants execute, and names only rights the ABI handles
// (a rule naming others is refused when the ruleset is built).
func TestSocketFolderRuleAtEveryABI(t *testing.T) {
	socketDir := mkdir(t, filepath.Join(t.TempDir(), "socket"), 0o700)
	for abi := 1; abi < len(presets); abi++ {
		for _, required := range []bool{false, true} {
			t.Run(fmt.Sprintf("ABI %d required %v", abi, required), func(t *testing.T) {
				cfg, rules := ruleset(abi, Spec{Write: []string{socketDir}, Required: required, Args: []string{"/x"}})
				var got string
				for _, r := range rules {
					if s := fmt.Sprint(r); strings.HasSuffix(s, " for paths ["+socketDir+"]") {
						got = strings.TrimSuffix(strings.TrimPrefix(s, "REQUIRE "), " for paths ["+socketDir+"]")
					}
				}
				if got == "" {
					t.Fatalf("no rule for the socket folder in %v", rules)
				}
				for _, r := range []string{"read_file", "read_dir", "write_file", "make_reg", "make_sock", "remove_file", "make_dir", "remove_dir"} {
					if !strings.Contains(got, r) {
						t.Errorf("socket folder rights %s lack %s", got, r)
					}
				}
				if strings.Contains(got, "execute") {
					t.Errorf("socket folder rights %s include execute", got)
				}
				if abi >= 3 && !strings.Contains(got, "truncate") {
					t.Errorf("socket folder rights %s lack truncate at ABI %d", got, abi)
				}
				handled := cfg.HandledAccessFS.String()
				for _, r := range strings.Split(strings.Trim(got, "{}"), ",") {
					if !strings.Contains(handled, r) {
						t.Errorf("the rule names %s, which ABI %d does not handle (%s)", r, abi, handled)
					}
				}
			})
		}
	}
}
