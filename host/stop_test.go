package host_test

import (
	"context"
	"os"
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
	// Each step takes the call timeout and the stop's grace (2s) at most. The
	// call timeout bounds the other plugins' metadata calls too: long enough
	// for those on a loaded machine.
	const callTimeout, bound = 5 * time.Second, 40 * time.Second
	unstick := func() { // when a step hangs: nothing left behind, the step returns
		for _, pid := range append(plugintest.ProcessesOf(stubborn), plugintest.ProcessesOf(silent)...) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}

	var h *host.Host
	var err error
	plugintest.InTime(t, bound, "opening the host", unstick, func() {
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
	if len(plugintest.ProcessesOf(stubborn)) == 0 {
		t.Fatal("no process runs under the plugin's path: the checks below would see nothing")
	}

	// Its removal: a scan drains it, and its process ends.
	if err := os.Remove(stubborn); err != nil {
		t.Fatal(err)
	}
	plugintest.InTime(t, bound, "a scan after the removal", unstick, func() { err = h.Rescan(context.Background()) })
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(bound)
	for len(plugintest.ProcessesOf(stubborn)) > 0 {
		if time.Now().After(deadline) {
			unstick()
			t.Fatalf("the removed plugin still runs %v later: its drain waits on its Shutdown", bound)
		}
		time.Sleep(20 * time.Millisecond) // polling the process table: no event says a process ended
	}

	// A stop: the plugin is back (a file copied in again) and the host closes.
	plugintest.Install(t, dir, bin, "ignoreshutdown")
	plugintest.InTime(t, bound, "a scan after the plugin came back", unstick, func() { err = h.Rescan(context.Background()) })
	if p, ok := h.Plugin("ignoreshutdown"); err != nil || !ok || p.PID() == 0 {
		t.Fatalf("the plugin did not come back: %v", err)
	}
	plugintest.InTime(t, bound, "closing the host", unstick, func() { err = h.Close() })
	closed = true
	if err != nil {
		t.Fatal(err)
	}
	if pids := append(plugintest.ProcessesOf(stubborn), plugintest.ProcessesOf(silent)...); len(pids) > 0 {
		unstick()
		t.Fatalf("plugin processes left behind: %v", pids)
	}
}
