package metrics_test

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/host/metrics"
	"github.com/idplug/idplug/internal/plugintest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	plugintest.Cleanup()
	os.Exit(code)
}

// refusedName is a plugin file that does not run (not executable), named like a
// token, to show file names never reach /metrics.
const refusedName = "idplug-connector-tok-8f14e45fceea167a5a36dedd4bea2543"

// watchedHost opens a host on a folder holding the example plugin and one
// refused file, with m wired in as serve wires it.
func watchedHost(t *testing.T, m *metrics.Metrics) (*host.Host, string) {
	t.Helper()
	dir := plugintest.Folder(t)
	plugintest.Install(t, dir, plugintest.Binary(t, "./plugins/example"), "example")
	if err := os.WriteFile(filepath.Join(dir, refusedName), []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h, err := host.Open(ctx, host.Options{PluginDir: dir, OnCall: m.ObserveCall, OnRestart: m.PluginRestarted})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	m.WatchHost(h)
	return h, dir
}

// TestRegisteredMetrics: once every recording function ran and a host is
// watched, /metrics serves exactly the documented idplug families, each with
// its type, label names and help text, plus the Go runtime's and the process's.
func TestRegisteredMetrics(t *testing.T) {
	m := metrics.New()
	watchedHost(t, m)
	m.ObserveCall(host.CallInfo{Instance: "acme", Plugin: "example", RPC: "UserInfo", Duration: time.Millisecond})
	m.ObserveStore("sqlite", "get_session", time.Millisecond, nil)
	m.PluginRestarted("example")
	m.ObserveRequest("GET /healthz", 200, time.Millisecond)
	m.APIKeyFailure("invalid_key")
	m.VaultOp("read", "ok")
	m.VaultRefresh("ok")
	m.ProviderEvent("token")
	m.EgressRefused("example", "not_named")
	m.ConfigApplied(time.Now())
	m.WatchListener("public", func() int64 { return 0 }, func() int64 { return 0 })
	e := scrape(t, m)

	for _, f := range families {
		if got := e.kind[f.name]; got != f.kind {
			t.Errorf("%s: type %q, want %q", f.name, got, f.kind)
		}
		if got := e.help[f.name]; got != f.help {
			t.Errorf("%s: help %q, want %q", f.name, got, f.help)
		}
		var got []string
		for k := range e.labels[f.name] {
			got = append(got, k)
		}
		if !slices.Equal(sorted(got), sorted(f.labels)) {
			t.Errorf("%s: labels %v, want %v", f.name, sorted(got), sorted(f.labels))
		}
		if e.count(f.name) == 0 {
			t.Errorf("%s: no series", f.name)
		}
	}
	for name := range e.kind {
		if strings.HasPrefix(name, "idplug_") && !slices.ContainsFunc(families, func(f family) bool { return f.name == name }) {
			t.Errorf("%s is served but not documented", name)
		}
	}
	for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_cpu_seconds_total", "process_open_fds"} {
		if _, ok := e.kind[name]; !ok {
			t.Errorf("%s is missing: the Go and process collectors are not registered", name)
		}
	}
}

// TestWatchHostSeries: each running plugin has one state series per state, the
// current one at 1 and the others at 0, an in-flight gauge, and the refused files
// are a count: their names, like the plugin folder's path, never become labels.
func TestWatchHostSeries(t *testing.T) {
	m := metrics.New()
	h, dir := watchedHost(t, m)
	if n := len(h.Plugins()); n != 1 {
		t.Fatalf("%d plugins run, want the example plugin alone (refused: %v)", n, h.Refused())
	}
	e := scrape(t, m)
	for state, want := range map[string]float64{"running": 1, "restarting": 0, "failed": 0, "stopped": 0} {
		if v, ok := e.value("idplug_plugin_state", l("plugin", "example", "state", state)); !ok || v != want {
			t.Errorf("plugin_state{state=%q} = %v (exposed %v), want %v", state, v, ok, want)
		}
	}
	if n := e.count("idplug_plugin_state"); n != 4 {
		t.Errorf("%d plugin_state series for one plugin, want 4", n)
	}
	if v, ok := e.value("idplug_plugin_calls_in_flight", l("plugin", "example")); !ok || v != 0 {
		t.Errorf("calls_in_flight = %v (exposed %v), want 0", v, ok)
	}
	if v, _ := e.value("idplug_plugin_files_refused", nil); v != 1 {
		t.Errorf("files_refused = %v, want 1 (refused: %v)", v, h.Refused())
	}
	for _, leak := range []string{strings.TrimPrefix(refusedName, "idplug-connector-"), dir} {
		if strings.Contains(e.raw, leak) {
			t.Errorf("/metrics shows %q", leak)
		}
	}
}

// TestRestartThroughHost: a plugin killed from outside is restarted, and the
// host's OnRestart moves idplug_plugin_restarts_total for that plugin only.
func TestRestartThroughHost(t *testing.T) {
	m := metrics.New()
	h, _ := watchedHost(t, m)
	plugins := h.Plugins()
	if len(plugins) != 1 || plugins[0].PID == 0 {
		t.Fatalf("plugins: %+v", plugins)
	}
	if err := syscall.Kill(plugins[0].PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		e := scrape(t, m)
		restarts, _ := e.value("idplug_plugin_restarts_total", l("plugin", "example"))
		running, _ := e.value("idplug_plugin_state", l("plugin", "example", "state", "running"))
		if restarts == 1 && running == 1 {
			if n := e.count("idplug_plugin_restarts_total"); n != 1 {
				t.Errorf("%d restart series, want 1: %v", n, e.values["idplug_plugin_restarts_total"])
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the kill: restarts %v, running %v", restarts, running)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestPluginLabelIsTheMetadataID: every metric names a plugin by its metadata
// id, the name connectors configure, whatever its file is called: the example
// plugin installed as idplug-connector-renamed-example is "example" in the
// restart counter as in the state, in-flight and call metrics, and its file
// name is no label value anywhere.
func TestPluginLabelIsTheMetadataID(t *testing.T) {
	const fileName = "renamed-example"
	m := metrics.New()
	dir := plugintest.Folder(t)
	plugintest.Install(t, dir, plugintest.Binary(t, "./plugins/example"), fileName)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	h, err := host.Open(ctx, host.Options{PluginDir: dir, OnCall: m.ObserveCall, OnRestart: m.PluginRestarted})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	m.WatchHost(h)
	plugins := h.Plugins()
	if len(plugins) != 1 || plugins[0].PID == 0 || plugins[0].Proc.Metadata().ID != "example" {
		t.Fatalf("plugins: %+v (refused: %v)", plugins, h.Refused())
	}
	if err := h.Configure(ctx, []host.InstanceConfig{{ID: "acme", Plugin: "example", Config: []byte(`{"authorizationEndpoint":"https://id.example.test/authorize","clientId":"client-1","greeting":"Hello"}`)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.AuthorizationURI(ctx, "acme", "https://app.test/cb", "state-1"); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(plugins[0].PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	var e exposition
	for {
		e = scrape(t, m)
		restarts, _ := e.value("idplug_plugin_restarts_total", l("plugin", "example"))
		running, _ := e.value("idplug_plugin_state", l("plugin", "example", "state", "running"))
		if restarts == 1 && running == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the kill: restarts{plugin=example} %v, running %v; plugin labels %v", restarts, running,
				e.values["idplug_plugin_restarts_total"]["plugin"])
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, fam := range []string{"idplug_plugin_restarts_total", "idplug_plugin_state", "idplug_plugin_calls_in_flight",
		"idplug_connector_calls_total", "idplug_connector_call_duration_seconds"} {
		if got := e.values[fam]["plugin"]; !slices.Equal(got, []string{"example"}) {
			t.Errorf("%s: plugin labels %q, want the metadata id alone", fam, got)
		}
	}
	if strings.Contains(e.raw, fileName) {
		t.Errorf("/metrics shows the file name:\n%s", grepLines(e.raw, fileName))
	}
}

// TestHideConnectors: with connector ids hidden, calls add up by plugin and no
// series names the instance.
func TestHideConnectors(t *testing.T) {
	m := metrics.New()
	m.HideConnectors()
	for _, id := range []string{"acme-secret-partner", "other"} {
		m.ObserveCall(host.CallInfo{Instance: id, Plugin: "oauth2", RPC: "AuthorizationURI", Duration: time.Millisecond})
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	text := rec.Body.String()
	if strings.Contains(text, "acme-secret-partner") || strings.Contains(text, `connector="other"`) {
		t.Fatal("a hidden connector id is in /metrics")
	}
	if !strings.Contains(text, `idplug_connector_calls_total{code="ok",connector="",plugin="oauth2",rpc="AuthorizationURI"} 2`) {
		t.Fatalf("calls do not add up by plugin:\n%s", text)
	}
}
