package tracing

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/idplug/idplug/internal/otlptest"
	"go.opentelemetry.io/otel/trace"
)

// exportingTo starts tracing, every request sampled, exporting to rcv over
// protocol, until the test ends.
func exportingTo(t *testing.T, rcv *otlptest.Receiver, protocol string) *Tracing {
	t.Helper()
	endpoint := rcv.HTTPEndpoint
	if protocol == protocolGRPC {
		endpoint = rcv.GRPCEndpoint
	}
	tr, err := Start(context.Background(), Settings{Exporter: exporterOTLP, Protocol: protocol,
		Endpoint: endpoint, ServiceName: "idplug", Sampler: defaultSamplerName}, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = tr.Shutdown(ctx)
	})
	return tr
}

// TestHostileRequestsCostNoOtherSpans: a collector refuses a whole export
// request for one string that is not UTF-8 (a path that decodes to byte 0xFF,
// a User-Agent with one) and over its size limit (4 MiB over gRPC; paths of 60
// KiB, which a request line may hold, made 4.9 MB of 80 spans). Such requests
// cost the spans exported with them nothing, and their own spans carry what
// they sent valid and cut.
func TestHostileRequestsCostNoOtherSpans(t *testing.T) {
	rcv := otlptest.Start(t)
	tr := exportingTo(t, rcv, protocolGRPC)
	h := tr.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	serve := func(target string, edit func(*http.Request)) {
		r := httptest.NewRequest("GET", "http://idplug.test"+target, nil)
		if edit != nil {
			edit(r)
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	for range 10 {
		serve("/callback/github", nil)
	}
	serve("/x%ff", nil)
	serve("/", func(r *http.Request) { r.Header.Set("User-Agent", "Mozilla\xff"+strings.Repeat("é", 300)) })
	serve("/", func(r *http.Request) { r.Host = strings.Repeat("h\xff", 30<<10) })
	long := "/" + strings.Repeat("a", 60<<10)
	for range 80 {
		serve(long, nil)
	}
	const sent = 93
	if err := tr.ForceFlush(context.Background()); err != nil {
		t.Fatalf("the export failed: %.300v", err)
	}
	spans := rcv.WaitFor(t, 5*time.Second, func(s []otlptest.Span) bool { return len(s) >= sent })
	bounds := map[string]int{"url.path": maxPathBytes, "user_agent.original": maxUserAgentBytes, "server.address": maxHostBytes}
	for _, s := range spans {
		for k, v := range s.Attributes {
			if n, ok := bounds[k]; ok && (len(v) > n || !utf8.ValidString(v)) {
				t.Errorf("span %q: %s of %d bytes: %.40q", s.Name, k, len(v), v)
			}
		}
	}
	if len(spans) != sent {
		t.Errorf("%d spans received, %d sent", len(spans), sent)
	}
}

// TestRequestAttributesAreCutOnACharacter: a value cut to its bound ends on a
// character boundary, never inside a character.
func TestRequestAttributesAreCutOnACharacter(t *testing.T) {
	r := httptest.NewRequest("GET", "http://idplug.test/"+strings.Repeat("é", 2000), nil)
	r.Header.Set("User-Agent", strings.Repeat("a", maxUserAgentBytes-1)+"é")
	r.Host = "x" + strings.Repeat("ü", 200)
	want := map[string]int{"url.path": maxPathBytes - 1, "user_agent.original": maxUserAgentBytes - 1, "server.address": maxHostBytes - 1}
	for _, a := range requestAttributes(r) {
		n, ok := want[string(a.Key)]
		if !ok {
			continue
		}
		if v := a.Value.AsString(); !utf8.ValidString(v) || len(v) != n {
			t.Errorf("%s is %d bytes (want %d), valid UTF-8 %v", a.Key, len(v), n, utf8.ValidString(v))
		}
	}
}

// TestATraceStateOverTheBoundIsDropped: a caller's trace state longer than a
// plugin's spans may carry is dropped where the request's span starts, its
// traceparent kept; one within the bound goes on.
func TestATraceStateOverTheBoundIsDropped(t *testing.T) {
	tr := exportingTo(t, otlptest.Start(t), protocolHTTP)
	var got trace.SpanContext
	h := tr.Handler(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		got = trace.SpanContextFromContext(r.Context())
	}))
	member := func(k string) string { return k + "=" + strings.Repeat("v", 200) } // 202 bytes
	for _, c := range []struct {
		state string
		kept  bool
	}{
		{member("a") + "," + member("b"), true},                      // 405 bytes
		{member("a") + "," + member("b") + "," + member("c"), false}, // 608 bytes, valid
	} {
		r := httptest.NewRequest("GET", "http://idplug.test/callback/github", nil)
		r.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
		r.Header.Set("tracestate", c.state)
		h.ServeHTTP(httptest.NewRecorder(), r)
		if got.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || !got.IsSampled() {
			t.Fatalf("a trace state of %d bytes: the request's span is not in the caller's trace: %v", len(c.state), got.TraceID())
		}
		if kept := got.TraceState().String() == c.state; kept != c.kept {
			t.Errorf("a trace state of %d bytes: went on %v, want %v (got %d bytes)", len(c.state), kept, c.kept, len(got.TraceState().String()))
		}
	}
}
