// Package tracing exports OpenTelemetry traces of the host and of its plugins over
// OTLP. The host traces its HTTP routes and its calls to plugins; a plugin records
// spans for the calls the host sampled and hands them back over its connection
// (it has no route to a collector), where they are checked, bounded and exported
// with the host's own. Off, a nil *Tracing, every method is a no-op and nothing
// is wrapped.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"

	"github.com/hashicorp/go-hclog"
	"github.com/idplug/idplug/internal/otlpwire"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// forwardQueue bounds the plugin batches waiting for the exporter; past it they
// are dropped. One plugin's batches take forwardShare of its places at most, so
// that one sending all it may does not crowd the others out.
const (
	forwardQueue = 64
	forwardShare = forwardQueue / 2
)

// uploadTimeout bounds one export of plugin spans.
const uploadTimeout = 10 * time.Second

// Tracing is the host's tracer provider and the exporter shared with its plugins.
type Tracing struct {
	settings   Settings
	provider   *sdktrace.TracerProvider
	client     otlptrace.Client
	propagator propagation.TextMapPropagator
	log        hclog.Logger

	mu      sync.RWMutex // guards closed against sends on forward
	closed  bool
	forward chan pluginBatch // checked plugin spans
	done    chan struct{}
	dropped atomic.Int64 // plugin spans refused or dropped
}

// Start builds the exporter and the tracer provider that s asks for. It returns
// nil, nil when tracing is off. The exporter connects lazily: a collector that is
// down costs failed exports (logged by OpenTelemetry), not a failed start.
func Start(ctx context.Context, s Settings, endpointFromEnv bool, log hclog.Logger) (*Tracing, error) {
	if !s.On() {
		return nil, nil
	}
	if log == nil {
		log = hclog.NewNullLogger()
	}
	sampler, err := s.sampler()
	if err != nil {
		return nil, err
	}
	otel.SetLogger(logr.New(otelLog{log: log}))
	client, err := newClient(s, endpointFromEnv)
	if err != nil {
		return nil, err
	}
	if err := client.Start(ctx); err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	exp := &exporter{client: client}
	t := &Tracing{
		settings: s, client: client, log: log,
		propagator: propagation.TraceContext{},
		forward:    make(chan pluginBatch, forwardQueue),
		done:       make(chan struct{}),
	}
	t.provider = sdktrace.NewTracerProvider(
		sdktrace.WithSampler(sampler),
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName(s.ServiceName))),
	)
	// OpenTelemetry's own failures (an export the collector refused) into the
	// host's log, not to stderr in a format of their own.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("tracing", "error", err) }))
	go t.forwardLoop()
	return t, nil
}

// newClient makes the OTLP client for s's protocol. A configured endpoint is used
// only when no variable names one: then the client reads the variables itself.
func newClient(s Settings, endpointFromEnv bool) (otlptrace.Client, error) {
	var u *url.URL
	if s.Endpoint != "" && !endpointFromEnv {
		var err error
		if u, err = url.Parse(s.Endpoint); err != nil || !isHTTPURL(s.Endpoint) {
			return nil, fmt.Errorf("tracing.endpoint is not an http:// or https:// URL, like http://collector:4318")
		}
	}
	if s.Protocol == protocolGRPC {
		var opts []otlptracegrpc.Option
		if u != nil {
			opts = append(opts, otlptracegrpc.WithEndpointURL(u.String()))
		}
		return otlptracegrpc.NewClient(opts...), nil
	}
	var opts []otlptracehttp.Option
	if u != nil {
		// Like OTEL_EXPORTER_OTLP_ENDPOINT: a base URL, with the traces path under it.
		v := *u
		v.Path = trimSlash(v.Path) + "/v1/traces"
		opts = append(opts, otlptracehttp.WithEndpointURL(v.String()))
	}
	return otlptracehttp.NewClient(opts...), nil
}

func trimSlash(p string) string {
	for len(p) > 0 && p[len(p)-1] == '/' {
		p = p[:len(p)-1]
	}
	return p
}

// TracerProvider is the host's provider (nil when off).
func (t *Tracing) TracerProvider() trace.TracerProvider {
	if t == nil {
		return nil
	}
	return t.provider
}

// Dropped counts the plugin spans refused or dropped since the start.
func (t *Tracing) Dropped() int64 {
	if t == nil {
		return 0
	}
	return t.dropped.Load()
}

// Shutdown exports what is still buffered, within ctx, and stops the exporter.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	if !t.closed {
		t.closed = true
		close(t.forward)
	}
	t.mu.Unlock()
	select {
	case <-t.done:
	case <-ctx.Done():
	}
	return t.provider.Shutdown(ctx)
}

// ForceFlush exports the host's buffered spans now.
func (t *Tracing) ForceFlush(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.provider.ForceFlush(ctx)
}

// forwardLoop exports the plugins' checked spans as their bytes: the batches
// waiting when an export starts go in it together (mergeWaiting).
func (t *Tracing) forwardLoop() {
	defer close(t.done)
	var next []byte
	for {
		first := next
		if first == nil {
			b, ok := <-t.forward
			if !ok {
				return
			}
			first = b.out()
		}
		var batches [][]byte
		batches, next = mergeWaiting(first, t.forward)
		rs := make([]*tracepb.ResourceSpans, len(batches))
		for i, b := range batches {
			rs[i] = otlpwire.Raw(b)
		}
		ctx, cancel := context.WithTimeout(context.Background(), uploadTimeout)
		if err := t.client.UploadTraces(ctx, rs); err != nil {
			t.log.Warn("exporting plugin spans failed", "error", err)
		}
		cancel()
	}
}

// Bounds of one export request, of plugin spans (forwardMergeBytes also of the
// host's own): a collector's gRPC receiver refuses messages over 4 MiB by
// default, and would refuse the whole request.
const (
	forwardMerge      = 16
	forwardMergeBytes = 3 << 20
)

// pluginBatch is a plugin's checked spans waiting for the exporter.
type pluginBatch struct {
	rs     []byte        // the content of a ResourceSpans
	queued *atomic.Int32 // the plugin's count of batches in the queue
}

// out is b's spans, taken off the plugin's count as they leave the queue.
func (b pluginBatch) out() []byte {
	if b.queued != nil {
		b.queued.Add(-1)
	}
	return b.rs
}

// mergeWaiting returns first and the batches waiting in queue behind it, up to
// forwardMerge batches and forwardMergeBytes, and the batch it took but left for
// the next request (nil if none).
func mergeWaiting(first []byte, queue <-chan pluginBatch) (batches [][]byte, next []byte) {
	batches, size := [][]byte{first}, len(first)
	for len(batches) < forwardMerge {
		select {
		case q, ok := <-queue:
			if !ok {
				return batches, nil
			}
			b := q.out()
			if size+len(b) > forwardMergeBytes {
				return batches, b
			}
			batches, size = append(batches, b), size+len(b)
		default:
			return batches, nil
		}
	}
	return batches, nil
}

var (
	errExporterBehind = errors.New("the exporter is behind; spans dropped")
	errQueueShare     = errors.New("the plugin's batches fill its share of the export queue; spans dropped")
)

// enqueue hands checked spans of p to the exporter, or drops them when it is
// behind or p's batches fill its share of the queue.
func (t *Tracing) enqueue(p *PluginSpans, rs []byte, spans int) error {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed {
		return errExporterBehind
	}
	if p.queued.Add(1) > forwardShare {
		p.queued.Add(-1)
		t.dropped.Add(int64(spans))
		return errQueueShare
	}
	select {
	case t.forward <- pluginBatch{rs: rs, queued: &p.queued}:
		return nil
	default:
		p.queued.Add(-1)
		t.dropped.Add(int64(spans))
		return errExporterBehind
	}
}
