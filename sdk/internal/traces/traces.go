// Package traces records a plugin's spans when its host traces calls, and hands
// them to the host: a sandboxed plugin has no route to a collector. Off (the
// default), nothing here runs and the plugin pays nothing.
package traces

import (
	"context"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/idplug/idplug/internal/otlpwire"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// Bounds of what waits for the host: past them spans are dropped, never held.
// A batch of 64 spans is some 20 KiB, inside gRPC's 32 KiB receive buffers:
// one of 256 took a 1 MiB buffer of the host for each message (BENCHMARKS.md,
// "Tracing").
const (
	queuedBatches = 256
	batchSpans    = 64
	batchTimeout  = 200 * time.Millisecond
)

var current atomic.Pointer[Recorder]

// On reports whether the plugin records spans.
func On() bool { return current.Load() != nil }

// Recorder is the plugin's tracer provider and the queue of finished span
// batches that the host drains over TraceService.
type Recorder struct {
	Provider *sdktrace.TracerProvider
	batches  chan []byte
	dropped  atomic.Int64
}

// Start makes a Recorder and installs it as the global tracer provider and the
// W3C trace context as the global propagator. Only calls the host sampled are
// recorded: the plugin never starts a trace of its own.
func Start(service string) *Recorder {
	r := &Recorder{batches: make(chan []byte, queuedBatches)}
	exp := capture{r}
	r.Provider = sdktrace.NewTracerProvider(
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.NeverSample())),
		sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(batchTimeout), sdktrace.WithMaxExportBatchSize(batchSpans)),
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName(service))),
	)
	otel.SetTracerProvider(r.Provider)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	current.Store(r)
	return r
}

// Batches is where finished batches wait, each a serialized OTLP export request.
func (r *Recorder) Batches() <-chan []byte { return r.batches }

// Dropped counts the batches dropped because the host did not take them in time.
func (r *Recorder) Dropped() int64 { return r.dropped.Load() }

// capture is the plugin's span exporter: instead of a network call, a batch,
// written straight in the OTLP wire form, goes into the queue the host drains.
type capture struct{ r *Recorder }

func (capture) Shutdown(context.Context) error { return nil }

func (c capture) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	if len(spans) == 0 {
		return nil
	}
	b := make([]byte, 0, 512*len(spans))
	at := otlpwire.Begin(&b, 1) // ExportTraceServiceRequest.resource_spans
	b = otlpwire.AppendResourceSpans(b, spans)
	otlpwire.End(&b, at)
	select {
	case c.r.batches <- b:
	default:
		c.r.dropped.Add(1) // the host is not reading: drop rather than grow
	}
	return nil
}

// Transport wraps rt so that each request to a provider is a client span of the
// call that made it, per the HTTP semantic conventions, when the plugin records
// spans; otherwise rt is returned as is. Only requests of a recorded call pay
// for a span. No trace header goes to the provider: the trace is the operator's.
// url.full has no query string, credentials or fragment: some providers take
// tokens in the query.
func Transport(rt http.RoundTripper) http.RoundTripper {
	r := current.Load()
	if r == nil {
		return rt
	}
	return clientSpans{next: rt, tracer: r.Provider.Tracer("github.com/idplug/idplug/sdk/oauth2kit")}
}

// clientSpans is Transport's round tripper. Not otelhttp's: it builds metric
// attributes for every request even with no meter, which cost the plugin more
// than the span itself (BENCHMARKS.md, "Tracing").
type clientSpans struct {
	next   http.RoundTripper
	tracer trace.Tracer
}

func (t clientSpans) RoundTrip(r *http.Request) (*http.Response, error) {
	if !trace.SpanFromContext(r.Context()).IsRecording() {
		return t.next.RoundTrip(r)
	}
	u := *r.URL
	u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment, u.User = "", false, "", "", nil
	attrs := []attribute.KeyValue{
		semconv.HTTPRequestMethodKey.String(method(r.Method)),
		semconv.URLFull(u.String()),
		semconv.ServerAddress(u.Hostname()),
	}
	if p, err := strconv.Atoi(u.Port()); err == nil {
		attrs = append(attrs, semconv.ServerPort(p))
	}
	_, span := t.tracer.Start(r.Context(), method(r.Method), trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	defer span.End()
	resp, err := t.next.RoundTrip(r)
	if err != nil {
		span.SetStatus(codes.Error, "")
		span.SetAttributes(semconv.ErrorTypeOther)
		return nil, err
	}
	span.SetAttributes(semconv.HTTPResponseStatusCode(resp.StatusCode))
	if resp.StatusCode >= 400 { // for a client, every 4xx and 5xx is an error
		span.SetStatus(codes.Error, "")
	}
	return resp, nil
}

// method is the method as the conventions name it: "_OTHER" for one not known.
func method(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return m
	}
	return "_OTHER"
}
