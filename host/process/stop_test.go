package process

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/idplug/idplug/internal/plugintest"
)

const ignoreShutdownPkg = "./host/testdata/ignoreshutdown"

// stopBound is what a test allows a stop that should take shutdownGrace: ample
// on a loaded machine, and still far from the suite's timeout.
const stopBound = shutdownGrace + 10*time.Second

// A plugin that never answers go-plugin's Shutdown call is killed once
// shutdownGrace has passed: Close and Drain (a removal, a replacement, the
// host's stop) return, and neither its process nor its socket folder is left.
// Before, go-plugin's Kill waited on the call for good.
func TestStopOfAPluginThatIgnoresShutdownIsBounded(t *testing.T) {
	dir := plugintest.Folder(t)
	path := plugintest.Install(t, dir, plugintest.Binary(t, ignoreShutdownPkg), "ignoreshutdown")
	for _, tc := range []struct {
		name string
		stop func(*Process)
	}{
		{"Close", (*Process).Close},
		{"Drain", func(p *Process) { p.Drain(context.Background()) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sockets := socketDir(t)
			p, err := Start(context.Background(), "ignoreshutdown", path, nil, Options{SocketDir: sockets, PluginDir: dir})
			if err != nil {
				t.Fatal(err)
			}
			c := p.cur.Load()
			if pids := processesOf(path); len(pids) != 1 || pids[0] != p.PID() {
				t.Fatalf("processes of the plugin %v, want its pid %d (or the check below sees nothing)", pids, p.PID())
			}
			within(t, stopBound, tc.name+" of a plugin that ignores Shutdown", func() { tc.stop(p) }, path)
			if st := c.run.cmd.ProcessState; st == nil || st.Exited() {
				t.Fatalf("the plugin was not killed: %v", st)
			}
			noProcessOf(t, path)
			if left, _ := os.ReadDir(sockets); len(left) > 0 {
				t.Fatalf("socket folder left behind: %v", left)
			}
		})
	}
}

// A plugin that answers neither GetMetadata nor Shutdown fails to start at the
// call timeout, and its process is stopped within shutdownGrace: a scan holds
// the supervisor's lock while it starts plugins, so a Start that never returned
// kept idplug from opening, and every later scan and stop waiting.
func TestStartOfAPluginThatAnswersNothingEnds(t *testing.T) {
	dir := plugintest.Folder(t)
	path := plugintest.Install(t, dir, plugintest.Binary(t, ignoreShutdownPkg), "silent")
	const callTimeout = time.Second
	var err error
	within(t, callTimeout+stopBound, "Start of a plugin that answers nothing", func() {
		_, err = Start(context.Background(), "silent", path, nil, Options{SocketDir: socketDir(t), PluginDir: dir, CallTimeout: callTimeout})
	}, path)
	if err == nil || !strings.Contains(err.Error(), "reading metadata") {
		t.Fatalf("Start: err = %v, want the metadata call's failure", err)
	}
	noProcessOf(t, path)
}

// A plugin that answers Shutdown still stops on its own: it exits (status 0)
// and is not killed.
func TestHonestPluginStillStopsOnItsOwn(t *testing.T) {
	dir := plugintest.Folder(t)
	path := plugintest.Install(t, dir, plugintest.Binary(t, "./plugins/example"), "example")
	p, err := Start(context.Background(), "example", path, nil, Options{SocketDir: socketDir(t), PluginDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	c := p.cur.Load()
	within(t, stopBound, "Close of an honest plugin", p.Close, path)
	if st := c.run.cmd.ProcessState; st == nil || !st.Exited() || st.ExitCode() != 0 {
		t.Fatalf("the plugin did not exit on its own after Shutdown: %v", st)
	}
	noProcessOf(t, path)
}

// socketDir is a socket folder with a short path (a Unix socket's is limited to
// about 100 bytes; t.TempDir holds the test's name).
func socketDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "stop")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(d) })
	return d
}

// within runs f and fails the test when it has not returned after d, instead of
// hanging the suite until its timeout. The processes of the plugin at path are
// killed first, so that f returns (given 10s more) and nothing is left behind.
func within(t *testing.T, d time.Duration, what string, f func(), path string) {
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
	for _, pid := range processesOf(path) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	timer.Reset(10 * time.Second)
	select {
	case <-done: // the kill ended what waited on the plugin
	case <-timer.C:
	}
	t.Fatalf("%s still waited after %v", what, d)
}

// noProcessOf fails the test when a process of the plugin at path still runs.
func noProcessOf(t *testing.T, path string) {
	t.Helper()
	if pids := processesOf(path); len(pids) > 0 {
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		t.Fatalf("plugin processes left behind: %v", pids)
	}
}

// processesOf lists the live processes whose command line starts with path
// (the launcher executes the plugin under its path), from /proc.
func processesOf(path string) []int {
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
		argv0, _, _ := bytes.Cut(cmdline, []byte{0})
		if string(argv0) != path {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		// pid (comm) state ...: comm may hold spaces, so read after its end.
		if err == nil {
			if f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:])); len(f) > 0 && f[0] == "Z" {
				continue
			}
		}
		pids = append(pids, pid)
	}
	return pids
}
