package traces

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	collectorpb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// TestRecordsOnlyWhatTheHostSampled: a call whose remote parent is sampled gets
// its spans queued for the host as an OTLP export request; one that is not
// sampled, or has no parent (the plugin never starts a trace), gets none.
func TestRecordsOnlyWhatTheHostSampled(t *testing.T) {
	if Transport(http.DefaultTransport) != http.DefaultTransport {
		t.Fatal("Transport wrapped the transport before tracing was on")
	}
	r := Start("idplug-connector-test")
	t.Cleanup(func() { current.Store(nil); _ = r.Provider.Shutdown(context.Background()) })
	if Transport(http.DefaultTransport) == http.DefaultTransport {
		t.Fatal("Transport did not wrap the transport with tracing on")
	}
	tracer := r.Provider.Tracer("test")
	parent := func(flags trace.TraceFlags) context.Context {
		return trace.ContextWithRemoteSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, TraceFlags: flags, Remote: true}))
	}
	_, s := tracer.Start(parent(0), "unsampled")
	s.End()
	_, s = tracer.Start(context.Background(), "no-parent")
	s.End()
	_, s = tracer.Start(parent(trace.FlagsSampled), "sampled")
	s.End()
	if err := r.Provider.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	var names []string
	for len(r.Batches()) > 0 {
		var req collectorpb.ExportTraceServiceRequest
		if err := proto.Unmarshal(<-r.Batches(), &req); err != nil {
			t.Fatal(err)
		}
		for _, rs := range req.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				for _, sp := range ss.GetSpans() {
					names = append(names, sp.GetName())
					if string(sp.GetParentSpanId()) != string([]byte{2, 0, 0, 0, 0, 0, 0, 0}) {
						t.Errorf("span %q has parent %x", sp.GetName(), sp.GetParentSpanId())
					}
				}
			}
		}
	}
	if len(names) != 1 || names[0] != "sampled" {
		t.Fatalf("queued spans %v; want only [sampled]", names)
	}
}

// TestProviderSpansHaveNoQuery: a token a provider takes in the query string
// never reaches a span.
func TestProviderSpansHaveNoQuery(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "{}") }))
	defer srv.Close()
	r := Start("idplug-connector-test")
	t.Cleanup(func() { current.Store(nil); _ = r.Provider.Shutdown(context.Background()) })
	ctx := trace.ContextWithRemoteSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, TraceFlags: trace.FlagsSampled, Remote: true}))
	ctx, call := r.Provider.Tracer("test").Start(ctx, "the call") // as the plugin's server span
	defer call.End()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/me?access_token=never-in-a-span#frag", nil)
	resp, err := (&http.Client{Transport: Transport(http.DefaultTransport)}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if err := r.Provider.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	var found bool
	for len(r.Batches()) > 0 {
		b := <-r.Batches()
		if bytes.Contains(b, []byte("never-in-a-span")) || bytes.Contains(b, []byte("frag")) {
			t.Fatal("the query string reached a span")
		}
		found = found || bytes.Contains(b, []byte(srv.URL+"/me"))
	}
	if !found {
		t.Fatal("no span with the request's URL")
	}
}

// TestQueueIsBounded: a host that does not read costs dropped batches, not memory.
func TestQueueIsBounded(t *testing.T) {
	r := &Recorder{batches: make(chan []byte, queuedBatches)}
	spans := []sdktrace.ReadOnlySpan{tracetest.SpanStub{Name: "x"}.Snapshot()}
	for range queuedBatches + 10 {
		if err := (capture{r}).ExportSpans(context.Background(), spans); err != nil {
			t.Fatal(err)
		}
	}
	if len(r.batches) != queuedBatches || r.Dropped() != 10 {
		t.Fatalf("queued %d, dropped %d; want %d and 10", len(r.batches), r.Dropped(), queuedBatches)
	}
}
