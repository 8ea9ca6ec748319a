package sysmon

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// childEnv makes the test binary, run again by a test, act as a child process.
const childEnv = "SYSMON_TEST_CHILD"

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "idle":
		// Say so, then idle until killed: the test counts this process's
		// context switches from outside, without waking it.
		fmt.Println("idle")
		time.Sleep(time.Hour)
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
//
// A loaded machine blurs this, and the test keeps it sharp. The children idle
// side by side, so that the load stretches their monitors' 10ms sleeps alike.
// The test counts their switches from outside: a child that woke up to count
// its own would wake its monitor too, setting or not, and on a loaded machine
// a monitor that wakes polls every 20µs until the process gets the CPU it
// waits for. And it takes the quietest of several seconds: one that a child
// spent finishing its start (late, on a loaded machine) had its monitor awake,
// setting or not.
func TestSettingKeepsTheMonitorAwake(t *testing.T) {
	const seconds = 3
	awakePID, asleepPID := idleChild(t, Setting), idleChild(t, "schedtrace=0")
	var awakeCounts, asleepCounts []int
	awakeBefore, asleepBefore := switchesOf(t, awakePID), switchesOf(t, asleepPID)
	for range seconds {
		time.Sleep(time.Second) // the span measured, not a wait for anything
		awakeNow, asleepNow := switchesOf(t, awakePID), switchesOf(t, asleepPID)
		awakeCounts, asleepCounts = append(awakeCounts, awakeNow-awakeBefore), append(asleepCounts, asleepNow-asleepBefore)
		awakeBefore, asleepBefore = awakeNow, asleepNow
	}
	awake, asleep := slices.Min(awakeCounts), slices.Min(asleepCounts)
	t.Logf("voluntary context switches in each idle second: %v with %s, %v without", awakeCounts, Setting, asleepCounts)
	// Awake, the monitor wakes about 100 times a second, some 85 on a machine
	// with four times more busy threads than CPUs; asleep, about none. Fewer
	// than 15 (a wake-up every 65ms) is no monitor kept awake.
	if awake < 15 || asleep*3 > awake {
		t.Fatalf("the monitor did not stay awake: %d context switches in the quietest second with the setting, %d without", awake, asleep)
	}
}

// idleChild starts the test binary as an idle child process with GODEBUG set to
// godebug, waits until it says it is idle, and returns its pid. The test's
// cleanup kills it.
func idleChild(t *testing.T, godebug string) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(withoutGodebug(os.Environ()), childEnv+"=idle", "GODEBUG="+godebug)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if line != "idle\n" {
		t.Fatalf("idle child (GODEBUG=%q) said %q: %v\n%s", godebug, line, err, stderr.String())
	}
	return cmd.Process.Pid
}

// switchesOf sums the voluntary context switches of process pid's threads.
func switchesOf(t *testing.T, pid int) int {
	t.Helper()
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	tasks, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, task := range tasks {
		status, err := os.ReadFile(dir + "/" + task.Name() + "/status")
		if err != nil {
			continue // the thread is gone
		}
		for line := range strings.SplitSeq(string(status), "\n") {
			if v, ok := strings.CutPrefix(line, "voluntary_ctxt_switches:"); ok {
				k, err := strconv.Atoi(strings.TrimSpace(v))
				if err != nil {
					t.Fatalf("%s/%s/status: %q", dir, task.Name(), line)
				}
				n += k
			}
		}
	}
	return n
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
