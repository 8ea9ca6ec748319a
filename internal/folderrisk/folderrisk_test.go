package folderrisk

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOf: each way another account could rename what a folder holds, and the
// folders that pass (idplug's own, or any account's with the sticky bit).
func TestOf(t *testing.T) {
	euid := uint32(os.Geteuid())
	for _, tc := range []struct {
		name string
		mode os.FileMode
		uid  int // -1: the test's own
		gid  int // -1: the test's own
		want Risk
	}{
		{"idplug's own", 0o755, -1, -1, None},
		{"everyone may write", 0o777, -1, -1, OpenToAll},
		{"everyone may write, sticky", 0o777 | os.ModeSticky, -1, -1, None},
		{"idplug's group may write", 0o770, -1, -1, None},
		{"another account's", 0o755, 4242, -1, ForeignOwner},
		{"another group may write", 0o770, -1, 4242, ForeignGroup},
		{"another group may write, sticky", 0o770 | os.ModeSticky, -1, 4242, None},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if (tc.uid >= 0 || tc.gid >= 0) && euid != 0 {
				t.Skip("needs root to give a folder to another account or group")
			}
			dir := t.TempDir()
			if err := os.Chown(dir, tc.uid, tc.gid); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, tc.mode); err != nil {
				t.Fatal(err)
			}
			info, err := os.Stat(dir)
			if err != nil {
				t.Fatal(err)
			}
			if got := Of(info, euid); got != tc.want {
				t.Fatalf("Of = %d, want %d", got, tc.want)
			}
			if got := Of(info, euid).Describe(info, euid); (got == "") != (tc.want == None) {
				t.Fatalf("Describe = %q", got)
			}
		})
	}
}

// TestAbove names the first folder above at risk, and only a folder above:
// the folder itself is its caller's to check.
func TestAbove(t *testing.T) {
	top := t.TempDir()
	mid := filepath.Join(top, "mid")
	dir := filepath.Join(mid, "dir")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if p, why, err := Above(dir); err != nil || why != "" {
		t.Fatalf("Above(%s) = %s, %q, %v; want none at risk", dir, p, why, err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, why, _ := Above(dir); why != "" {
		t.Fatalf("Above judged the folder itself: %q", why)
	}
	if err := os.Chmod(top, 0o777); err != nil {
		t.Fatal(err)
	}
	p, why, err := Above(dir)
	if err != nil || p != top || !strings.Contains(why, "every account may write without the sticky bit") {
		t.Fatalf("Above(%s) = %s, %q, %v; want %s, which every account may write", dir, p, why, err, top)
	}
}
