package host_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/host/process"
	"github.com/idplug/idplug/internal/gcpercent"
	"github.com/idplug/idplug/internal/plugintest"
	"github.com/idplug/idplug/internal/sysmon"
	"github.com/idplug/idplug/sdk"
)

// liveHost runs a watching host on a folder with the misbehave plugin and reports
// each finished rescan on the returned channel.
func liveHost(t *testing.T) (*host.Host, string, <-chan error) {
	t.Helper()
	dir := plugintest.Folder(t)
	plugintest.Install(t, dir, plugintest.Binary(t, misbehavePkg), "misbehave")
	rescans := make(chan error, 16)
	// No test here waits for a start to time out; a short StartTimeout only
	// failed a start (the launcher is this race-built test binary) on a loaded
	// machine.
	h := open(t, dir, host.Options{Watch: true, SettleTime: 100 * time.Millisecond, StartTimeout: 15 * time.Second,
		OnRescan: func(err error) { rescans <- err }})
	return h, dir, rescans
}

// waitRescan waits for the next rescan after a change to the folder.
func waitRescan(t *testing.T, rescans <-chan error) {
	t.Helper()
	select {
	case err := <-rescans:
		if err != nil {
			t.Fatalf("rescan: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no rescan within 20s of a change to the plugin folder")
	}
}

// drainRescans forgets the rescans reported so far, so that the next waitRescan
// waits for one that follows the change the test makes next.
func drainRescans(t *testing.T, rescans <-chan error) {
	t.Helper()
	for {
		select {
		case err := <-rescans:
			if err != nil {
				t.Fatalf("rescan: %v", err)
			}
		default:
			return
		}
	}
}

// waitLive waits until cond holds, checking after each rescan and every few
// milliseconds, and fails the test with what when it still does not after 30s
// (a settle time, then a start that may take StartTimeout). A failed rescan
// fails the test.
func waitLive(t *testing.T, rescans <-chan error, cond func() bool, what func() string) {
	t.Helper()
	waitRescans(t, rescans, cond, what, false)
}

// waitRescans is waitLive; with failuresTaken, a failed rescan is waited past.
func waitRescans(t *testing.T, rescans <-chan error, cond func() bool, what func() string, failuresTaken bool) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case err := <-rescans:
			if err != nil && !failuresTaken {
				t.Fatalf("rescan: %v", err)
			}
		case <-tick.C:
		case <-deadline:
			t.Fatalf("after 30s: %s", what())
		}
	}
}

// moveIn installs a binary the recommended way: copy beside the folder, then rename
// into it, which is atomic.
func moveIn(t *testing.T, dir, src, name string) {
	t.Helper()
	staging := plugintest.Install(t, t.TempDir(), src, name)
	if err := os.Rename(staging, filepath.Join(dir, "idplug-connector-"+name)); err != nil {
		t.Fatal(err)
	}
}

func refusedReason(h *host.Host, file string) string {
	for _, e := range h.Refused() {
		if e.File == file {
			return e.Reason
		}
	}
	return ""
}

func TestLiveFolderAddsANewPlugin(t *testing.T) {
	h, dir, rescans := liveHost(t)
	moveIn(t, dir, plugintest.Binary(t, examplePkg), "example")
	waitRescan(t, rescans)
	if _, ok := h.Plugin("example"); !ok {
		t.Fatalf("the new plugin does not run; refused: %v", h.Refused())
	}
	if err := h.Configure(context.Background(), []host.InstanceConfig{{ID: "demo", Plugin: "example", Config: exampleConfig("Hi")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.AuthorizationURI(context.Background(), "demo", "https://app.test/cb", "s"); err != nil {
		t.Fatal(err)
	}
}

func TestLiveFolderReplacesAPluginWithoutDroppingCallsInFlight(t *testing.T) {
	h, dir, rescans := liveHost(t)
	ctx := context.Background()
	if err := h.Configure(ctx, []host.InstanceConfig{
		{ID: "slow", Plugin: "misbehave", Config: json.RawMessage(`{"mode":"slow","delay":"1500ms"}`)},
		{ID: "ok", Plugin: "misbehave", Config: json.RawMessage(`{"mode":"ok"}`)},
	}); err != nil {
		t.Fatal(err)
	}
	old, _ := h.Plugin("misbehave")
	oldPID := old.PID()
	// Which process answered: the plugin says (its own pid is 1 in its PID
	// namespace).
	before, err := h.AuthorizationURI(ctx, "ok", "https://app.test/cb", "s")
	if err != nil || before.Session["process"] == "" {
		t.Fatalf("call before the swap: %v, %v", before, err)
	}
	oldProcess := before.Session["process"]

	var wg sync.WaitGroup
	var slowErr error
	var slowAuth *sdk.Authorization
	wg.Add(1)
	go func() {
		defer wg.Done()
		slowAuth, slowErr = h.AuthorizationURI(ctx, "slow", "https://app.test/cb", "s")
	}()
	for old.InFlight() == 0 { // the call has reached the old process
		time.Sleep(time.Millisecond)
	}

	moveIn(t, dir, plugintest.Binary(t, misbehavePkg), "misbehave")
	waitRescan(t, rescans)
	now, _ := h.Plugin("misbehave")
	if now == old || now.PID() == oldPID {
		t.Fatal("the plugin was not replaced")
	}
	// New calls go to the new process while the old one finishes its call.
	auth, err := h.AuthorizationURI(ctx, "ok", "https://app.test/cb", "s")
	if err != nil || auth.Session["process"] == "" || auth.Session["process"] == oldProcess {
		t.Fatalf("call after the swap: %v, %v", auth, err)
	}
	wg.Wait()
	if slowErr != nil || slowAuth.Session["process"] != oldProcess {
		t.Fatalf("the call in flight during the swap: %v, %v", slowAuth, slowErr)
	}
	waitGone(t, oldPID)
}

func TestLiveFolderDrainsARemovedPlugin(t *testing.T) {
	h, dir, rescans := liveHost(t)
	if err := h.Configure(context.Background(), []host.InstanceConfig{{ID: "ok", Plugin: "misbehave", Config: json.RawMessage(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	p, _ := h.Plugin("misbehave")
	pid := p.PID()
	if err := os.Remove(filepath.Join(dir, "idplug-connector-misbehave")); err != nil {
		t.Fatal(err)
	}
	waitRescan(t, rescans)
	if _, ok := h.Plugin("misbehave"); ok {
		t.Fatal("a removed plugin still runs")
	}
	waitGone(t, pid)
	_, err := h.AuthorizationURI(context.Background(), "ok", "https://app.test/cb", "s")
	if codeOf(err) != host.CodePluginUnavailable || !strings.Contains(err.Error(), `its plugin "misbehave" is not running`) {
		t.Fatalf("err = %v", err)
	}
	if h.Status().Ready {
		t.Fatal("ready although a connector's plugin is gone")
	}
}

func TestLiveFolderDoesNotStartAHalfWrittenBinary(t *testing.T) {
	h, dir, rescans := liveHost(t)
	src, err := os.ReadFile(plugintest.Binary(t, examplePkg))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "idplug-connector-example")
	// The copy starts: the file appears, empty. On a loaded machine the first
	// half may come more than SettleTime later, and then the file's creation
	// has a rescan of its own: wait for it, so that the next rescan is one that
	// began after the first half was written.
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	waitRescan(t, rescans)
	if _, ok := h.Plugin("example"); ok {
		t.Fatal("an empty binary was started")
	}
	drainRescans(t, rescans)
	if _, err := f.Write(src[:len(src)/2]); err != nil {
		t.Fatal(err)
	}
	// The copy stalls: the host must not run what is there so far.
	waitRescan(t, rescans)
	if _, ok := h.Plugin("example"); ok {
		t.Fatal("a half-written binary was started")
	}
	if reason := refusedReason(h, "idplug-connector-example"); reason == "" {
		t.Fatalf("the half-written file is not reported: %v", h.Refused())
	}
	// The copy finishes: now it runs. The write and the close may each bring a
	// rescan, and one of the first half may still be under way: wait for the
	// plugin, not for a given rescan.
	drainRescans(t, rescans)
	if _, err := f.Write(src[len(src)/2:]); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	waitLive(t, rescans, func() bool { _, ok := h.Plugin("example"); return ok },
		func() string { return fmt.Sprintf("the finished binary does not run: %v", h.Refused()) })
}

func TestLiveFolderKeepsTheOldPluginWhenItsReplacementFails(t *testing.T) {
	h, dir, rescans := liveHost(t)
	if err := h.Configure(context.Background(), []host.InstanceConfig{{ID: "ok", Plugin: "misbehave", Config: json.RawMessage(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	old, _ := h.Plugin("misbehave")
	pid := old.PID()
	staging := filepath.Join(t.TempDir(), "broken")
	writeFile(t, staging, "#!/bin/sh\necho 'not a plugin'\n", 0o755)
	if err := os.Rename(staging, filepath.Join(dir, "idplug-connector-misbehave")); err != nil {
		t.Fatal(err)
	}
	waitRescan(t, rescans)
	now, ok := h.Plugin("misbehave")
	if !ok || now != old || now.PID() != pid {
		t.Fatal("a failed replacement took the working plugin down")
	}
	if reason := refusedReason(h, "idplug-connector-misbehave"); !strings.Contains(reason, "not a plugin") {
		t.Fatalf("refused = %v", h.Refused())
	}
	if _, err := h.AuthorizationURI(context.Background(), "ok", "https://app.test/cb", "s"); err != nil {
		t.Fatal(err)
	}
}

func TestAPluginThatKeepsCrashingIsMarkedFailed(t *testing.T) {
	dir := plugintest.Folder(t)
	plugintest.Install(t, dir, plugintest.Binary(t, misbehavePkg), "crashlater")
	var restarts atomic.Int32
	h := open(t, dir, host.Options{StartTimeout: 15 * time.Second, OnRestart: func(string) { restarts.Add(1) }})
	if err := h.Configure(context.Background(), []host.InstanceConfig{{ID: "c", Plugin: "crashlater", Config: json.RawMessage(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	p, ok := h.Plugin("crashlater")
	if !ok {
		t.Fatalf("the plugin did not start; refused: %v", h.Refused())
	}
	// Each process crashes once it runs, outside any call (crashlater exits on
	// SIGUSR1): the host notices on its own and starts the next one. A crash
	// on a timer instead raced the start on a loaded machine: a process that
	// dies before its start is done is a failed start, which counts towards
	// the five but is no restart.
	var processes int
	var last any
	deadline := time.Now().Add(90 * time.Second)
	for p.State() != process.StateFailed {
		if time.Now().After(deadline) {
			t.Fatalf("still %s after 90s and %d processes", p.State(), processes)
		}
		if l := p.Launch(); l != nil && l != last {
			// This process runs until the signal: its pid is there.
			if pid := p.PID(); pid != 0 {
				last = l
				processes++
				crash(t, pid)
			}
		}
		time.Sleep(5 * time.Millisecond) // no event says a process started
	}
	_, err := p.AuthorizationURI(context.Background(), process.Instance{ID: "c", Version: "v", Config: []byte(`{}`)}, sdk.AuthorizationRequest{RedirectURI: "https://app.test/cb", State: "s"})
	var e *sdk.Error
	if !errors.As(err, &e) || e.Code != host.CodePluginUnavailable || !strings.Contains(e.Message, "died 5 times in a row") {
		t.Fatalf("err = %v", err)
	}
	if processes != 5 {
		t.Fatalf("%d processes ran, want 5", processes)
	}
	// OnRestart is called after a restart is published: the last may come a
	// moment after its process was seen. None comes once the plugin failed.
	for restarts.Load() < 4 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := restarts.Load(); n != 4 {
		t.Fatalf("restarts = %d, want 4 (5 processes in all)", n)
	}
	st := h.Status()
	if st.Plugins[0].State != process.StateFailed {
		t.Fatalf("status = %+v", st)
	}
}

// crash makes the crashlater plugin whose process is pid exit, as a plugin that
// crashes does. For a host that is not root, pid is the sandbox launcher's
// outer step (Go: it ignores SIGUSR1) and the plugin its child.
func crash(t *testing.T, pid int) {
	t.Helper()
	for _, p := range append([]int{pid}, descendantsOf(t, pid)...) {
		_ = syscall.Kill(p, syscall.SIGUSR1)
	}
}

func TestPluginsGetNoneOfTheHostEnvironment(t *testing.T) {
	t.Setenv("IDPLUG_SESSION_KEY", "a-secret-the-plugin-must-not-see")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "another-one")
	t.Setenv("GODEBUG", "madvdontneed=1") // the host's own runtime settings stay its own
	for _, kv := range startedPluginsEnviron(t) {
		name, value, _ := strings.Cut(kv, "=")
		switch {
		case name == "IDPLUG_PLUGIN", name == "IDPLUG_LOG_LEVEL", name == "IDPLUG_EGRESS_PROXY", strings.HasPrefix(name, "PLUGIN_"):
		case name == "GODEBUG" && value == sysmon.Setting: // its runtime's monitor kept awake
		default:
			t.Errorf("the plugin's environment holds %s", name)
		}
	}
}

// A host whose operator set schedtrace (schedtrace=0: Go's default monitor) gives
// its plugins the same, and nothing else of its GODEBUG.
func TestPluginsFollowTheHostsMonitorSetting(t *testing.T) {
	t.Setenv("GODEBUG", "madvdontneed=1,schedtrace=0")
	if env := startedPluginsEnviron(t); !slices.Contains(env, "GODEBUG=schedtrace=0") {
		t.Fatalf("the plugin's environment lacks GODEBUG=schedtrace=0: %q", env)
	}
}

// startedPluginsEnviron starts a plugin under a host of this process's
// environment and returns the plugin process's.
func startedPluginsEnviron(t *testing.T) []string {
	t.Helper()
	dir := plugintest.Folder(t)
	plugintest.Install(t, dir, plugintest.Binary(t, misbehavePkg), "misbehave")
	h := open(t, dir, host.Options{})
	p, _ := h.Plugin("misbehave")
	environ, err := os.ReadFile(filepathJoinProc(p.PID(), "environ"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimRight(string(environ), "\x00"), "\x00")
}

// A plugin that asks the SDK for GC headroom (sdk.WithGCHeadroom, as this test
// plugin and the bundled ones do) runs with it: 400 for a heap as small as this
// plugin's; the host passes no GOGC that would override it.
func TestPluginsRunWithTheSDKsGCPercent(t *testing.T) {
	t.Setenv("GOGC", "50") // the host's own setting must not reach the plugin
	dir := plugintest.Folder(t)
	plugintest.Install(t, dir, plugintest.Binary(t, misbehavePkg), "misbehave")
	h := open(t, dir, host.Options{})
	ctx := context.Background()
	if err := h.Configure(ctx, []host.InstanceConfig{{ID: "ok", Plugin: "misbehave", Config: json.RawMessage(`{"mode":"ok"}`)}}); err != nil {
		t.Fatal(err)
	}
	a, err := h.AuthorizationURI(ctx, "ok", "https://app.test/cb", "state")
	if err != nil {
		t.Fatal(err)
	}
	// Above Go's default, at most what the headroom allows (400 while the plugin
	// keeps under 4 MiB live).
	got, _ := strconv.Atoi(a.Session["gogc"])
	if most := gcpercent.PercentFor(0, sdk.DefaultGCHeadroom); got <= 100 || got > most {
		t.Fatalf("the plugin's GC percent is %q, want above 100 and at most %d", a.Session["gogc"], most)
	}
}

// A plugin that asks for adaptive Ps (sdk.WithAdaptiveProcs(true), as this test
// plugin and the bundled ones do) runs on one P while its calls come one at a
// time, and on more as soon as they overlap (internal/procs).
func TestPluginProcsFollowTheCallsInFlight(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("one CPU (or a CPU quota of one): a plugin has one P anyway")
	}
	dir := plugintest.Folder(t)
	plugintest.Install(t, dir, plugintest.Binary(t, misbehavePkg), "misbehave")
	h := open(t, dir, host.Options{})
	ctx := context.Background()
	if err := h.Configure(ctx, []host.InstanceConfig{
		{ID: "ok", Plugin: "misbehave", Config: json.RawMessage(`{"mode":"ok"}`)},
		{ID: "slow", Plugin: "misbehave", Config: json.RawMessage(`{"mode":"slow","delay":"300ms"}`)},
	}); err != nil {
		t.Fatal(err)
	}
	procs := func() string {
		a, err := h.AuthorizationURI(ctx, "ok", "https://app.test/cb", "state")
		if err != nil {
			t.Fatal(err)
		}
		return a.Session["procs"]
	}
	deadline := time.Now().Add(15 * time.Second)
	for procs() != "1" {
		if time.Now().After(deadline) {
			t.Fatalf("still %s Ps after a stream of sequential calls", procs())
		}
	}
	// Retried until it shows: the slow calls may reach the plugin after the call
	// that reads its Ps, and the tuner widens a moment after they overlap.
	for {
		var wg sync.WaitGroup
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = h.AuthorizationURI(ctx, "slow", "https://app.test/cb", "state")
			}()
		}
		got := procs()
		wg.Wait()
		if got != "1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("still one P while calls overlapped")
		}
	}
}

func filepathJoinProc(pid int, file string) string { return filepath.Join("/proc", itoa(pid), file) }

// waitGone waits for a process to exit (it is not our child, so it cannot be waited on).
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still runs", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}
