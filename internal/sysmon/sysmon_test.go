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
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child %s (GODEBUG=%q): %v\n%s", role, godebug, err, out)
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
	awake, _ := strconv.Atoi(child(t, "idle", Setting))
	asleep, _ := strconv.Atoi(child(t, "idle", "schedtrace=0"))
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
