package tracing

import (
	"context"
	"sync"

	"github.com/idplug/idplug/internal/otlpwire"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// exporter is the host's span exporter: the batch's spans written straight in
// the OTLP wire form (internal/otlpwire) and handed to the OTLP client as
// bytes, in place of otlptrace's conversion into generated structs and their
// reflective marshalling, which was most of what exporting a span cost.
type exporter struct {
	client otlptrace.Client

	mu      sync.Mutex // the batch processor exports one batch at a time; Shutdown may race it
	buf     []byte     // reused: the client has copied it into its request once UploadTraces returns
	stopped bool
}

func (e *exporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if len(spans) == 0 {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped {
		return nil
	}
	e.buf = otlpwire.AppendResourceSpans(e.buf[:0], spans)
	return e.client.UploadTraces(ctx, []*tracepb.ResourceSpans{otlpwire.Raw(e.buf)})
}

func (e *exporter) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped {
		return nil
	}
	e.stopped = true
	return e.client.Stop(ctx)
}
