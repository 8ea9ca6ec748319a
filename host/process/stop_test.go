package process

import (
	"context"
	"os"
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
			if pids := plugintest.ProcessesOf(path); len(pids) != 1 || pids[0] != p.PID() {
				t.Fatalf("processes of the plugin %v, want its pid %d (or the check below sees nothing)", pids, p.PID())
			}
			plugintest.InTime(t, stopBound, tc.name+" of a plugin that ignores Shutdown", func() { plugintest.KillProcessesOf(path) }, func() { tc.stop(p) })
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
	plugintest.InTime(t, callTimeout+stopBound, "Start of a plugin that answers nothing", func() { plugintest.KillProcessesOf(path) }, func() {
		_, err = Start(context.Background(), "silent", path, nil, Options{SocketDir: socketDir(t), PluginDir: dir, CallTimeout: callTimeout})
	})
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
	plugintest.InTime(t, stopBound, "Close of an honest plugin", func() { plugintest.KillProcessesOf(path) }, p.Close)
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

// noProcessOf fails the test when a process of the plugin at path still runs.
func noProcessOf(t *testing.T, path string) {
	t.Helper()
	if pids := plugintest.ProcessesOf(path); len(pids) > 0 {
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		t.Fatalf("plugin processes left behind: %v", pids)
	}
}
