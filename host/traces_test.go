package host_test

import (
	"context"
	"encoding/json"
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
	s, fromEnv, err := tracing.Resolve(tracing.Settings{Exporter: "otlp", Protocol: "grpc", Endpoint: rcv.GRPCEndpoint,
		ServiceName: "idplug-under-test"}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	tr, err := tracing.Start(context.Background(), s, fromEnv, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
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
