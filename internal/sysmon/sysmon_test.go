package sysmon

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// childEnv makes the test binary, run again by a test, act as a child process.
const childEnv = "SYSMON_TEST_CHILD"

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "idle":
		// Idle for a second, then print how many times this process's threads gave
		// up the CPU meanwhile.
		var before, after syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
		time.Sleep(time.Second)
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
		fmt.Println(after.Nvcsw - before.Nvcsw)
		os.Exit(0)
	case "reexec":
		if err := Reexec(); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Printf("GODEBUG=%s\n", os.Getenv("GODEBUG"))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestWith(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", Setting},
		{"madvdontneed=1", "madvdontneed=1," + Setting},
		{"schedtrace=0", "schedtrace=0"},
		{"gctrace=1,schedtrace=1000", "gctrace=1,schedtrace=1000"},
		{"schedtracex=1", "schedtracex=1," + Setting},
		// What the runtime ignores sets nothing: a space, a value not an int32.
		{" schedtrace=1000", " schedtrace=1000," + Setting},
		{"schedtrace=1e3", "schedtrace=1e3," + Setting},
		{"schedtrace=0,schedtrace=x", "schedtrace=0,schedtrace=x"},
	} {
		if got := With(c.in); got != c.want {
			t.Errorf("With(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestPluginGodebug(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", Setting},
		{"madvdontneed=1", Setting},
		{"madvdontneed=1,schedtrace=0", "schedtrace=0"},
		{"schedtrace=5,gctrace=1,schedtrace=0", "schedtrace=0"}, // the runtime takes the last
		{"schedtrace=0,schedtrace=x", "schedtrace=0"},           // ... that it can read
	} {
		if got := PluginGodebug(c.in); got != c.want {
			t.Errorf("PluginGodebug(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func child(t *testing.T, role, godebug string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(withoutGodebug(os.Environ()), childEnv+"="+role)
	if godebug != "" {
		cmd.Env = append(cmd.Env, "GODEBUG="+godebug)
	}
	// Standard output only: the runtime may write a scheduler line to standard
	// error (on a machine up for more than 24.8 days).
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child %s (GODEBUG=%q): %v\n%s%s", role, godebug, err, out, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

func withoutGodebug(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "GODEBUG=") {
			out = append(out, kv)
		}
	}
	return out
}

// TestSettingKeepsTheMonitorAwake holds the runtime to what this package relies
// on: an idle process with Setting has its monitor wake every 10ms or so (about a
// hundred context switches a second), one without it sleeps through. If a Go
// release changes this, the lever is gone and this test says so.
func TestSettingKeepsTheMonitorAwake(t *testing.T) {
	switches := func(godebug string) int {
		out := child(t, "idle", godebug)
		n, err := strconv.Atoi(out)
		if err != nil {
			t.Fatalf("the child printed %q", out)
		}
		return n
	}
	awake, asleep := switches(Setting), switches("schedtrace=0")
	t.Logf("voluntary context switches in an idle second: %d with %s, %d without", awake, Setting, asleep)
	if awake < 30 || asleep*3 > awake {
		t.Fatalf("the monitor did not stay awake: %d context switches with the setting, %d without", awake, asleep)
	}
}

func TestReexecAddsTheSettingOnce(t *testing.T) {
	for _, c := range []struct{ godebug, want string }{
		{"", Setting},
		{"madvdontneed=1", "madvdontneed=1," + Setting},
		{"schedtrace=0", "schedtrace=0"}, // the operator's choice: no exec
	} {
		out := child(t, "reexec", c.godebug)
		if out != "GODEBUG="+c.want {
			t.Errorf("GODEBUG=%q: the child printed %q, want GODEBUG=%s", c.godebug, out, c.want)
		}
	}
}
