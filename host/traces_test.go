package host_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/host/tracing"
	"github.com/idplug/idplug/internal/otlptest"
	"github.com/idplug/idplug/internal/plugintest"
)

// TestPluginSpanAbuseIsDropped runs a plugin that sends garbage, oversized and
// forged spans and a flood of them on its span stream, then a message over
// gRPC's limit. The host goes on serving it, exports its one good span under the
// plugin's own name (not the host's it claimed), never a forged or oversized one,
// and no more of the flood than the per-plugin budget allows.
func TestPluginSpanAbuseIsDropped(t *testing.T) {
	start := time.Now()
	rcv := otlptest.Start(t)
	tr := startTracing(t, tracing.Settings{Exporter: "otlp", Protocol: "grpc", Endpoint: rcv.GRPCEndpoint, ServiceName: "idplug-under-test"})
	dir := plugintest.Folder(t)
	plugintest.Install(t, dir, plugintest.Binary(t, "./host/testdata/spamspans"), "spamspans")
	h := open(t, dir, host.Options{Tracing: tr})
	ctx := context.Background()
	if err := h.Configure(ctx, []host.InstanceConfig{{ID: "spam", Plugin: "spamspans", Config: json.RawMessage(`{}`)}}); err != nil {
		t.Fatal(err)
	}

	reqCtx, span := tr.TracerProvider().Tracer("test").Start(ctx, "request")
	if _, err := h.AuthorizationURI(reqCtx, "spam", "https://app.test/cb", "state-1"); err != nil {
		t.Fatal(err)
	}
	span.End()
	// The plugin answers this call once the host has read its whole stream.
	auth, err := h.AuthorizationURI(ctx, "spam", "https://app.test/cb", "state-2")
	if err != nil {
		t.Fatalf("the host stopped serving the plugin: %v", err)
	}
	if auth.RedirectTo != "https://spam.test/finished" {
		t.Fatalf("second call = %q", auth.RedirectTo)
	}
	// Everything accepted is exported by the time Shutdown returns.
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)

	counts := map[string]int{}
	for _, s := range rcv.Spans() {
		if s.Service == "idplug-connector-spamspans" {
			counts[s.Name]++
		} else if s.Service != "idplug-under-test" {
			t.Errorf("span %q exported under service %q", s.Name, s.Service)
		}
	}
	t.Logf("exported from the plugin: %v in %s; dropped %d", counts, elapsed, tr.Dropped())
	if counts["mixed-ok"] != 1 {
		t.Errorf("the good span of the mixed batch was exported %d times, want once; got %v", counts["mixed-ok"], counts)
	}
	for _, bad := range []string{"too-many", "foreign-trace", "huge-attribute", "list-attribute", "zero-span-id", "backwards"} {
		if counts[bad] > 0 {
			t.Errorf("%d %q spans were exported", counts[bad], bad)
		}
	}
	// The budget: a burst of 4000, then 1000 a second and 64 for each traced
	// call the host made to the plugin: its start, configuration and the two
	// calls here are fewer than 16.
	if limit := 4000 + int(elapsed.Seconds()*1000) + 16*64 + 1; counts["flood"] >= 10_000 || counts["flood"] > limit {
		t.Errorf("%d flood spans exported in %s; the budget allows %d", counts["flood"], elapsed, limit)
	}
	if counts["flood"] == 0 {
		t.Errorf("no flood span was exported: the budget should take the first batches")
	}
	if tr.Dropped() == 0 {
		t.Errorf("no span counted as dropped")
	}
}

// TestACallersTraceStateKeepsThePluginsSpans: a caller's trace state goes on to
// the plugin with its trace, and the plugin's spans carry it back. A valid one of
// 295 bytes had the intake refuse every span of the plugin in that trace; one
// the intake would refuse (over 512 bytes) is now dropped where the request's
// span starts, and the trace kept.
func TestACallersTraceStateKeepsThePluginsSpans(t *testing.T) {
	rcv := otlptest.Start(t)
	tr := startTracing(t, tracing.Settings{Exporter: "otlp", Protocol: "grpc", Endpoint: rcv.GRPCEndpoint})
	dir := plugintest.Folder(t)
	plugintest.Install(t, dir, plugintest.Binary(t, examplePkg), "example")
	h := open(t, dir, host.Options{Tracing: tr})
	if err := h.Configure(context.Background(), []host.InstanceConfig{{ID: "ex", Plugin: "example", Config: exampleConfig("hi")}}); err != nil {
		t.Fatal(err)
	}
	handler := tr.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := h.AuthorizationURI(r.Context(), "ex", "https://app.test/cb", "state-1"); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	}))
	member := func(k string, n int) string { return k + "=" + strings.Repeat("v", n) }
	states := map[string]string{
		"4bf92f3577b34da6a3ce929d0e0e4701": member("k", 250) + "," + member("l", 40),                           // 295 bytes
		"4bf92f3577b34da6a3ce929d0e0e4702": member("a", 200) + "," + member("b", 200) + "," + member("c", 200), // 608 bytes
	}
	for id, state := range states {
		r := httptest.NewRequest("GET", "http://idplug.test/authorize", nil)
		r.Header.Set("traceparent", "00-"+id+"-00f067aa0ba902b7-01")
		r.Header.Set("tracestate", state)
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("a trace state of %d bytes: %d %s", len(state), w.Code, w.Body)
		}
	}
	rcv.WaitFor(t, 10*time.Second, func(spans []otlptest.Span) bool {
		seen := map[string]bool{}
		for _, s := range spans {
			if s.Service == "idplug-connector-example" {
				seen[s.TraceID] = true
			}
		}
		for id := range states {
			if !seen[id] {
				return false
			}
		}
		return true
	})
	if d := tr.Dropped(); d != 0 {
		t.Errorf("%d of the plugin's spans dropped", d)
	}
}

// startTracing starts tracing with settings alone (no variables), shut down
// when the test ends.
func startTracing(t *testing.T, settings tracing.Settings) *tracing.Tracing {
	t.Helper()
	s, fromEnv, err := tracing.Resolve(settings, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	tr, err := tracing.Start(context.Background(), s, fromEnv, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
	return tr
}
