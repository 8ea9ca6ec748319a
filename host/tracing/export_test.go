package tracing

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	collectorpb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// uploads is an OTLP client that keeps the size and the spans of each request.
type uploads struct {
	sizes, spans []int
}

func (*uploads) Start(context.Context) error { return nil }
func (*uploads) Stop(context.Context) error  { return nil }
func (u *uploads) UploadTraces(_ context.Context, rs []*tracepb.ResourceSpans) error {
	b, err := proto.Marshal(&collectorpb.ExportTraceServiceRequest{ResourceSpans: rs})
	if err != nil {
		return err
	}
	var req collectorpb.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		return err
	}
	n := 0
	for _, r := range req.ResourceSpans {
		for _, ss := range r.ScopeSpans {
			n += len(ss.Spans)
		}
	}
	u.sizes, u.spans = append(u.sizes, len(b)), append(u.spans, n)
	return nil
}

// TestHostExportsStayUnderTheCollectorsLimit: the batch processor bounds a
// batch in spans (512, or OTEL_BSP_MAX_EXPORT_BATCH_SIZE), not in bytes; a
// batch of big spans goes out in several requests, none over a collector's
// limit, and a span too big for any request alone is dropped, not the batch.
func TestHostExportsStayUnderTheCollectorsLimit(t *testing.T) {
	value := strings.Repeat("x", 4000)
	span := func(attrs int) sdktrace.ReadOnlySpan {
		s := tracetest.SpanStub{Name: "GET /", StartTime: time.Unix(1, 0), EndTime: time.Unix(2, 0),
			SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}})}
		for i := range attrs {
			s.Attributes = append(s.Attributes, attribute.String(strings.Repeat("k", i+1), value))
		}
		return tracetest.SpanStubs{s}.Snapshots()[0]
	}
	var batch []sdktrace.ReadOnlySpan
	for range 100 {
		batch = append(batch, span(16)) // 64 KB
	}
	batch = append(batch, span(800)) // 3.2 MB alone
	var u uploads
	err := (&exporter{client: &u}).ExportSpans(context.Background(), batch)
	if err == nil || !strings.Contains(err.Error(), "a span of") {
		t.Errorf("the span over the limit went unreported: %v", err)
	}
	sent := 0
	for i, size := range u.sizes {
		if size > forwardMergeBytes {
			t.Errorf("request %d is %d bytes, over %d", i, size, forwardMergeBytes)
		}
		sent += u.spans[i]
	}
	if sent != 100 || len(u.sizes) < 3 {
		t.Errorf("%d spans sent in %d requests; want the 100 of 64 KB each in 3 or more", sent, len(u.sizes))
	}
}
