package tracing

import (
	"context"
	"errors"
	"fmt"
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
	return e.upload(ctx, spans)
}

// upload exports spans in requests of forwardMergeBytes at most: the batch
// processor bounds a batch in spans, not bytes, and a collector refuses a
// request over its limit whole. A batch over it goes in parts, each split again
// if need be; a span alone over it is dropped.
func (e *exporter) upload(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	e.buf = otlpwire.AppendResourceSpans(e.buf[:0], spans)
	size := len(e.buf)
	if size <= forwardMergeBytes {
		return e.client.UploadTraces(ctx, []*tracepb.ResourceSpans{otlpwire.Raw(e.buf)})
	}
	if cap(e.buf) > 2*forwardMergeBytes {
		e.buf = nil // not held for the batches to come
	}
	if len(spans) == 1 {
		return fmt.Errorf("a span of %d bytes is over the limit of an export request, %d; dropped", size, forwardMergeBytes)
	}
	parts := size/forwardMergeBytes + 1
	per := (len(spans) + parts - 1) / parts
	var errs []error
	for i := 0; i < len(spans); i += per {
		errs = append(errs, e.upload(ctx, spans[i:min(i+per, len(spans))]))
	}
	return errors.Join(errs...)
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
