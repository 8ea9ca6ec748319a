package host_test

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/internal/plugintest"
)

const ignoreShutdownPkg = "./host/testdata/ignoreshutdown"

// A plugin that ignores go-plugin's Shutdown call cannot hold idplug: a file
// that answers neither its metadata nor Shutdown is refused at the call
// timeout and idplug opens serving the others (its start had waited for good,
// holding the scan's lock), and one that answers its metadata is stopped all
// the same at its removal and at idplug's stop, killed with whatever it
// started.
func TestHostilePluginIgnoringShutdownCannotHoldTheHost(t *testing.T) {
	dir := plugintest.Folder(t)
	plugintest.Install(t, dir, plugintest.Binary(t, examplePkg), "example")
	bin := plugintest.Binary(t, ignoreShutdownPkg)
	stubborn := plugintest.Install(t, dir, bin, "ignoreshutdown")
	silent := plugintest.Install(t, dir, bin, "silent")
	// Each step takes the call timeout and the stop's grace (2s) at most.
	const callTimeout, bound = time.Second, 20 * time.Second
	unstick := func() { // when a step hangs: nothing left behind, the step returns
		for _, pid := range append(processesOf(stubborn), processesOf(silent)...) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}

	var h *host.Host
	var err error
	inTime(t, bound, "opening the host", unstick, func() {
		h, err = host.Open(context.Background(), host.Options{PluginDir: dir, CallTimeout: callTimeout,
			Logger: hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, Output: testWriter{t}})})
	})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			unstick()
			_ = h.Close()
		}
	})
	refused := h.Refused()
	if len(refused) != 1 || refused[0].File != "idplug-connector-silent" || !strings.Contains(refused[0].Reason, "reading metadata") {
		t.Fatalf("refused %+v, want the silent plugin's metadata call", refused)
	}
	t.Logf("sandbox %+v", h.Sandbox())
	if _, ok := h.Plugin("example"); !ok {
		t.Fatal("the example plugin does not serve")
	}
	p, ok := h.Plugin("ignoreshutdown")
	if !ok || p.PID() == 0 {
		t.Fatal("the plugin that ignores Shutdown does not run")
	}
	if len(processesOf(stubborn)) == 0 {
		t.Fatal("no process runs under the plugin's path: the checks below would see nothing")
	}

	// Its removal: a scan drains it, and its process ends.
	if err := os.Remove(stubborn); err != nil {
		t.Fatal(err)
	}
	inTime(t, bound, "a scan after the removal", unstick, func() { err = h.Rescan(context.Background()) })
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(bound)
	for len(processesOf(stubborn)) > 0 {
		if time.Now().After(deadline) {
			unstick()
			t.Fatalf("the removed plugin still runs %v later: its drain waits on its Shutdown", bound)
		}
		time.Sleep(20 * time.Millisecond) // polling the process table: no event says a process ended
	}

	// A stop: the plugin is back (a file copied in again) and the host closes.
	plugintest.Install(t, dir, bin, "ignoreshutdown")
	inTime(t, bound, "a scan after the plugin came back", unstick, func() { err = h.Rescan(context.Background()) })
	if p, ok := h.Plugin("ignoreshutdown"); err != nil || !ok || p.PID() == 0 {
		t.Fatalf("the plugin did not come back: %v", err)
	}
	inTime(t, bound, "closing the host", unstick, func() { err = h.Close() })
	closed = true
	if err != nil {
		t.Fatal(err)
	}
	if pids := append(processesOf(stubborn), processesOf(silent)...); len(pids) > 0 {
		unstick()
		t.Fatalf("plugin processes left behind: %v", pids)
	}
}

// inTime runs f and fails the test when it has not returned after d, instead of
// hanging the suite until its timeout. unstick runs first, to make f return
// (given 10s more) by killing the plugins it waits on: nothing is left behind.
func inTime(t *testing.T, d time.Duration, what string, unstick, f func()) {
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
	case <-done: // the kill ended what waited on the plugin
	case <-timer.C:
	}
	t.Fatalf("%s still waited after %v", what, d)
}

// processesOf lists the live processes whose command line starts with path:
// the sandbox's launcher executes the plugin under its path.
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
		if argv0, _, _ := bytes.Cut(cmdline, []byte{0}); string(argv0) == path && processExists(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}
