package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// envPeek makes this test binary, started as a plugin, look through /proc for
// its host (pid:key, the host's pid and a file of the host's to read through
// /proc/<pid>/root), print what it found and exit.
const envPeek = "IDPLUG_SANDBOX_TEST_PEEK"

func init() {
	target, ok := os.LookupEnv(envPeek)
	if !ok {
		return
	}
	pid, key, _ := strings.Cut(target, ":")
	entries, err := os.ReadDir("/proc")
	if err != nil {
		fmt.Println("list /proc:", err)
		os.Exit(0)
	}
	var others []string
	for _, e := range entries {
		if n, err := strconv.Atoi(e.Name()); err == nil && n != os.Getpid() {
			others = append(others, e.Name())
		}
	}
	fmt.Printf("other processes: %d\n", len(others))
	say := func(what, path string) {
		if b, err := os.ReadFile(path); err == nil {
			fmt.Printf("%s: read %q\n", what, b)
		} else {
			fmt.Printf("%s: %v\n", what, err)
		}
	}
	// Read-only, as the rest of the root: an older kernel's procfs has
	// /proc/sys, which a uid-0 plugin could otherwise write.
	var st unix.Statfs_t
	if err := unix.Statfs("/proc", &st); err != nil {
		fmt.Println("statfs /proc:", err)
	} else {
		fmt.Printf("proc read-only: %v\n", st.Flags&unix.ST_RDONLY != 0)
	}
	say("host's environment", "/proc/"+pid+"/environ")
	say("host's key file", "/proc/"+pid+"/root"+key)
	os.Exit(0)
}

// Where Landlock is missing (a kernel before 5.13, or one that leaves it out
// of its LSM list) the private root still keeps the host's processes out of
// the plugin's sight: its /proc is a procfs of the plugin's own PID namespace,
// not the host's bound, through which a plugin listed every process and read
// their environments and, by /proc/<pid>/root, their files.
func TestPrivateRootHidesTheHostsProcesses(t *testing.T) {
	s := Detect(Policy{})
	if !s.Namespaces {
		t.Skip("this process can make no namespaces")
	}
	s.LandlockABI = 0
	report := Assess(Policy{}, s)
	if !report.Has(FeatureRoot) || !report.Has(FeatureProc) || report.Has(FeatureFS) {
		t.Fatalf("report %+v", report)
	}
	dir := t.TempDir()
	key := filepath.Join(dir, "session.key")
	const secret = "key-file-of-the-host-0123"
	if err := os.WriteFile(key, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	self, err := os.ReadFile("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	plugin := filepath.Join(dir, "idplug-connector-peek")
	if err := os.WriteFile(plugin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	got := runPlugin(t, plugin, report, envPeek+"="+strconv.Itoa(os.Getpid())+":"+key)
	t.Logf("the plugin said:\n%s", got)
	if !strings.Contains(got, "other processes: 0\n") {
		t.Errorf("the plugin listed processes besides its own")
	}
	if !strings.Contains(got, "proc read-only: true\n") {
		t.Errorf("the plugin's /proc is not read-only")
	}
	for _, what := range []string{"host's environment", "host's key file"} {
		if !strings.Contains(got, what+": open /proc/") || strings.Contains(got, secret) {
			t.Errorf("the plugin could read its %s", what)
		}
	}
}
