package host_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/host/sandbox"
	"github.com/idplug/idplug/internal/plugintest"
	"github.com/idplug/idplug/sdk"
)

// faultyHost runs the misbehave plugin with one instance per mode.
func faultyHost(t *testing.T, opts host.Options) *host.Host {
	t.Helper()
	dir := plugintest.Folder(t)
	plugintest.Install(t, dir, plugintest.Binary(t, misbehavePkg), "misbehave")
	h := open(t, dir, opts)
	var cfgs []host.InstanceConfig
	for _, mode := range []string{"ok", "panic", "hang", "exit"} {
		cfgs = append(cfgs, host.InstanceConfig{ID: mode, Plugin: "misbehave", Config: json.RawMessage(`{"mode":"` + mode + `"}`)})
	}
	if err := h.Configure(context.Background(), cfgs); err != nil {
		t.Fatal(err)
	}
	return h
}

func pidOf(t *testing.T, h *host.Host) int {
	t.Helper()
	p, _ := h.Plugin("misbehave")
	pid := p.PID()
	if pid == 0 {
		t.Fatal("plugin has no process")
	}
	return pid
}

func TestKilledPluginIsRestartedOnceAndNextCallsSucceed(t *testing.T) {
	var restarts atomic.Int32
	h := faultyHost(t, host.Options{OnRestart: func(string) { restarts.Add(1) }})
	ctx := context.Background()
	if _, err := h.AuthorizationURI(ctx, "ok", "https://app.test/cb", "s"); err != nil {
		t.Fatal(err)
	}
	old := pidOf(t, h)
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}

	// Many callers notice the death at once; one restart serves them all.
	var wg sync.WaitGroup
	errs := make([]error, 16)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = h.AuthorizationURI(ctx, "ok", "https://app.test/cb", fmt.Sprint("s", i))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("call %d after SIGKILL: %v", i, err)
		}
	}
	if n := restarts.Load(); n != 1 {
		t.Fatalf("restarts = %d, want 1", n)
	}
	if now := pidOf(t, h); now == old {
		t.Fatal("the plugin runs under its old pid")
	}
	// The new process got the instance's configuration again: the call above proves it
	// for "ok"; a second instance too.
	if _, err := h.AuthorizationURI(ctx, "ok", "https://app.test/cb", "again"); err != nil {
		t.Fatal(err)
	}
}

func TestPluginDyingDuringACallIsReportedAndReplaced(t *testing.T) {
	var restarts atomic.Int32
	h := faultyHost(t, host.Options{OnRestart: func(string) { restarts.Add(1) }})
	ctx := context.Background()
	_, err := h.AuthorizationURI(ctx, "exit", "https://app.test/cb", "s")
	if codeOf(err) != host.CodePluginUnavailable || !strings.Contains(err.Error(), "stopped during GetAuthorizationUri") {
		t.Fatalf("err = %v", err)
	}
	if _, err := h.AuthorizationURI(ctx, "ok", "https://app.test/cb", "s"); err != nil {
		t.Fatalf("call after the crash: %v", err)
	}
	if restarts.Load() == 0 {
		t.Fatal("no restart")
	}
}

func TestHangingCallIsCutOffAtTheDeadline(t *testing.T) {
	// The call timeout bounds the plugin's start and configuration calls too:
	// long enough for those on a loaded machine.
	h := faultyHost(t, host.Options{CallTimeout: 3 * time.Second})
	ctx := context.Background()
	start := time.Now()
	_, err := h.AuthorizationURI(ctx, "hang", "https://app.test/cb", "s")
	if codeOf(err) != host.CodePluginTimeout || !strings.Contains(err.Error(), "did not answer GetAuthorizationUri within 3s") {
		t.Fatalf("err = %v", err)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Fatalf("the call took %v", took)
	}
	// The caller's own shorter deadline wins too.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := h.AuthorizationURI(short, "hang", "https://app.test/cb", "s"); codeOf(err) != host.CodePluginTimeout {
		t.Fatalf("err = %v", err)
	}
	// The plugin still serves other calls.
	if _, err := h.AuthorizationURI(ctx, "ok", "https://app.test/cb", "s"); err != nil {
		t.Fatal(err)
	}
}

func TestPanicBecomesAnErrorAndThePluginKeepsServing(t *testing.T) {
	var restarts atomic.Int32
	h := faultyHost(t, host.Options{OnRestart: func(string) { restarts.Add(1) }})
	ctx := context.Background()
	pid := pidOf(t, h)
	_, err := h.AuthorizationURI(ctx, "panic", "https://app.test/cb", "s")
	if codeOf(err) != sdk.CodeGeneral || !strings.Contains(err.Error(), "connector panicked: boom in panic") {
		t.Fatalf("err = %v", err)
	}
	if _, err := h.AuthorizationURI(ctx, "ok", "https://app.test/cb", "s"); err != nil {
		t.Fatal(err)
	}
	if pidOf(t, h) != pid || restarts.Load() != 0 {
		t.Fatal("a panic restarted the plugin")
	}
}

// helperHostEnv makes the test binary act as a host process (see runHelperHost), so a
// test can SIGKILL a host and watch its plugins.
const helperHostEnv = "IDPLUG_TEST_HELPER_HOST"

// helperPluginUserEnv names the plugin_user of the helper host (a root one).
const helperPluginUserEnv = "IDPLUG_TEST_HELPER_PLUGIN_USER"

func runHelperHost() {
	opts := host.Options{PluginDir: os.Getenv(helperHostEnv)}
	if name := os.Getenv(helperPluginUserEnv); name != "" {
		u, err := sandbox.LookupUser(name)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		opts.Sandbox.User = u
	}
	h, err := host.Open(context.Background(), opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var pids []int
	for _, p := range h.Plugins() {
		pids = append(pids, p.PID)
	}
	_ = json.NewEncoder(os.Stdout).Encode(pids)
	select {} // until killed
}

// A plugin is the first process of its PID namespace, where the SDK's watch of
// its parent sees none: the kernel's parent-death signal ends it, which a
// plugin_user's setuid would clear if the launcher did not set it again.
func TestPluginsExitWhenTheirHostIsKilled(t *testing.T) {
	t.Run("plugins as the host's user", func(t *testing.T) { testPluginsExitWithTheHost(t, "") })
	t.Run("plugins as plugin_user", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("plugin_user needs a host running as root")
		}
		testPluginsExitWithTheHost(t, "nobody")
	})
}

func testPluginsExitWithTheHost(t *testing.T, pluginUser string) {
	dir := plugintest.Folder(t)
	plugintest.Install(t, dir, plugintest.Binary(t, misbehavePkg), "one")
	plugintest.Install(t, dir, plugintest.Binary(t, examplePkg), "example")

	// A SIGKILLed host cannot remove its socket folder: give it a TMPDIR of the
	// test's (short, for socket paths), removed when the test ends.
	tmp, err := os.MkdirTemp("", "hk")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(tmp) })
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperHostEnv+"="+dir, helperPluginUserEnv+"="+pluginUser, "TMPDIR="+tmp)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("helper host: %v", err)
	}
	var pids []int
	if err := json.Unmarshal([]byte(line), &pids); err != nil || len(pids) != 2 {
		t.Fatalf("helper host said %q", line)
	}
	for _, pid := range pids {
		if !alive(pid) {
			t.Fatalf("plugin %d is not running before the host dies", pid)
		}
	}

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for _, pid := range pids {
		for alive(pid) {
			if time.Now().After(deadline) {
				for _, p := range pids { // nothing left behind by a failed run
					_ = syscall.Kill(p, syscall.SIGKILL)
				}
				t.Fatalf("plugin %d still runs 10s after its host was killed", pid)
			}
			time.Sleep(20 * time.Millisecond) // polling a process we cannot wait on
		}
	}
}

// alive reports whether pid runs (a zombie nobody reaped counts as gone).
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesized command name.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func itoa(i int) string { return fmt.Sprint(i) }

func TestCallsPastTheInFlightBoundFailFast(t *testing.T) {
	dir := plugintest.Folder(t)
	plugintest.Install(t, dir, plugintest.Binary(t, misbehavePkg), "misbehave")
	h := open(t, dir, host.Options{MaxInFlight: 2})
	ctx := context.Background()
	if err := h.Configure(ctx, []host.InstanceConfig{
		{ID: "slow", Plugin: "misbehave", Config: json.RawMessage(`{"mode":"slow","delay":"1s"}`)},
		{ID: "ok", Plugin: "misbehave", Config: json.RawMessage(`{"mode":"ok"}`)},
	}); err != nil {
		t.Fatal(err)
	}
	p, _ := h.Plugin("misbehave")
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := h.AuthorizationURI(ctx, "slow", "https://app.test/cb", "s"); err != nil {
				t.Error(err)
			}
		}()
	}
	for p.InFlight() < 2 {
		time.Sleep(time.Millisecond)
	}
	// Refused while both slots are busy: a queued call would have waited for a slot
	// and succeeded instead.
	_, err := h.AuthorizationURI(ctx, "ok", "https://app.test/cb", "s")
	if codeOf(err) != host.CodePluginOverloaded {
		t.Fatalf("err = %v", err)
	}
	if p.InFlight() != 2 {
		t.Fatalf("%d calls in flight; the slow ones finished before the refusal was checked", p.InFlight())
	}
	wg.Wait()
	if _, err := h.AuthorizationURI(ctx, "ok", "https://app.test/cb", "s"); err != nil {
		t.Fatalf("after the load: %v", err)
	}
}
