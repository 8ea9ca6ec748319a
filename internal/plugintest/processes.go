package plugintest

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// ProcessesOf lists the live (not zombie) processes whose command line starts
// with path: the sandbox's launcher executes a plugin under its path.
func ProcessesOf(path string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		if argv0, _, _ := bytes.Cut(cmdline, []byte{0}); string(argv0) != path {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		// pid (comm) state ...: comm may hold spaces, so read after its end.
		if err != nil {
			continue
		}
		if f := bytes.Fields(stat[bytes.LastIndexByte(stat, ')')+1:]); len(f) > 0 && string(f[0]) != "Z" {
			pids = append(pids, pid)
		}
	}
	return pids
}

// KillProcessesOf kills every process of the plugin at path.
func KillProcessesOf(path string) {
	for _, pid := range ProcessesOf(path) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// InTime runs f and fails the test when it has not returned after d, instead
// of hanging the suite until its timeout. unstick runs first, to make f return
// (given 10 s more) by killing what it waits on: nothing is left behind.
func InTime(t *testing.T, d time.Duration, what string, unstick, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-done:
		return
	case <-timer.C:
	}
	unstick()
	timer.Reset(10 * time.Second)
	select {
	case <-done: // unstick ended what f waited on
	case <-timer.C:
	}
	t.Fatalf("%s still waited after %v", what, d)
}
