package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/idplug/idplug/internal/handedfds"
)

// envListFDs makes this test binary, started as a plugin, print the
// descriptors it was handed and exit.
const envListFDs = "IDPLUG_SANDBOX_TEST_LIST_FDS"

func init() {
	if os.Getenv(envListFDs) == "" {
		return
	}
	fds, err := handedfds.List()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(strings.Trim(fmt.Sprint(fds), "[]"))
	os.Exit(0)
}

// leakFD opens a file of the test's without close-on-exec, at 100 or above,
// as idplug holds a descriptor a careless parent handed it.
func leakFD(t *testing.T) int {
	t.Helper()
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(secret)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD, 100) // F_DUPFD leaves close-on-exec off
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// runPlugin starts the plugin file at path as the host does, under report,
// and returns what it printed.
func runPlugin(t *testing.T, path string, report Report, env ...string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd, err := Command(Launch{Report: report, Name: filepath.Base(path), File: f, Path: path, SocketDir: t.TempDir(), Env: env})
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("plugin: %v\n%s", err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// A plugin starts with stdin, stdout and stderr and no other descriptor of its
// host's: Landlock checks paths when they are opened, so one idplug inherited
// without close-on-exec (a key file, a socket) would reach past it. The test
// process holds one, and those its own parent may have leaked.
func TestPluginGetsNoDescriptorOfItsHost(t *testing.T) {
	leaked := leakFD(t)
	self, err := os.ReadFile("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	plugin := filepath.Join(t.TempDir(), "idplug-connector-fds")
	if err := os.WriteFile(plugin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	// A script keeps its file open for its interpreter (/dev/fd/3), and only it.
	script := filepath.Join(t.TempDir(), "idplug-connector-script")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nfor f in /proc/self/fd/*; do echo \"${f##*/}\"; done\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	reports := map[string]Report{
		"sandbox off":             {Mode: ModeOff},
		"what this kernel offers": Assess(Policy{}, Detect(Policy{})),
	}
	for name, report := range reports {
		t.Run(name, func(t *testing.T) {
			if got := runPlugin(t, plugin, report, envListFDs+"=1"); got != "0 1 2" {
				t.Errorf("the plugin was handed descriptors %s, want 0 1 2 (this process leaked %d)", got, leaked)
			}
			got := strings.Fields(runPlugin(t, script, report))
			if !slices.Contains(got, "3") || slices.Contains(got, strconv.Itoa(leaked)) {
				t.Errorf("the script saw descriptors %v, want its file's (3) and not %d", got, leaked)
			}
		})
	}
}

// Where close_range is refused (before Linux 5.11, or by a container's
// seccomp filter), the launcher marks what /proc/self/fd lists.
func TestCloseOnExecByProcFD(t *testing.T) {
	leaked := leakFD(t)
	if err := closeOnExecEach(leaked); err != nil {
		t.Fatal(err)
	}
	flags, err := unix.FcntlInt(uintptr(leaked), unix.F_GETFD, 0)
	if err != nil || flags&unix.FD_CLOEXEC == 0 {
		t.Errorf("descriptor %d: flags %d, %v; want close-on-exec", leaked, flags, err)
	}
}
