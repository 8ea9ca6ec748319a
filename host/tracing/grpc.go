package tracing

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/idplug/idplug/internal/printable"
	connectorv1 "github.com/idplug/idplug/proto/gen/idplug/connector/v1"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
)

// DialOptions trace the host's calls to the plugin: a client span per call whose
// context goes to the plugin in the W3C traceparent header, and the call's trace
// remembered as one the plugin may send spans for. Nil when tracing is off.
func (p *PluginSpans) DialOptions() []grpc.DialOption {
	if p == nil {
		return nil
	}
	return []grpc.DialOption{
		grpc.WithStatsHandler(sampledOnly{boundedStatus{otelgrpc.NewClientHandler(
			otelgrpc.WithTracerProvider(p.t.provider),
			otelgrpc.WithPropagators(p.t.propagator),
			otelgrpc.WithFilter(notTraceService),
		)}}),
		// After otelgrpc's: the call's own span, a root one too, is in ctx by then.
		grpc.WithStatsHandler(expectTraces{p}),
	}
}

// expectTraces remembers the trace of every sampled call as one the plugin may
// send spans for.
type expectTraces struct{ p *PluginSpans }

func (e expectTraces) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context {
	if sc := trace.SpanContextFromContext(ctx); sc.IsSampled() {
		e.p.Expect(sc.TraceID())
	}
	return ctx
}
func (expectTraces) HandleRPC(context.Context, stats.RPCStats)                         {}
func (expectTraces) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (expectTraces) HandleConn(context.Context, stats.ConnStats)                       {}

// sampledOnly skips otelgrpc for a call inside a trace that is not sampled: it
// would record nothing, yet build its attributes and metrics on every message.
// The plugin then gets no trace context and records nothing either. A call
// outside any trace (a plugin start) goes through, for the sampler to decide.
type sampledOnly struct{ inner stats.Handler }

type skipKey struct{}

func (s sampledOnly) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() && !sc.IsSampled() {
		return context.WithValue(ctx, skipKey{}, true)
	}
	return s.inner.TagRPC(ctx, info)
}

func (s sampledOnly) HandleRPC(ctx context.Context, st stats.RPCStats) {
	if ctx.Value(skipKey{}) == nil {
		s.inner.HandleRPC(ctx, st)
	}
}

func (s sampledOnly) TagConn(ctx context.Context, info *stats.ConnTagInfo) context.Context {
	return s.inner.TagConn(ctx, info)
}
func (s sampledOnly) HandleConn(ctx context.Context, st stats.ConnStats) { s.inner.HandleConn(ctx, st) }

// maxStatusMessage bounds the message of a failed call's status in the host's
// span, in bytes, as the host bounds a plugin's error message elsewhere.
const maxStatusMessage = 1024

// boundedStatus hands otelgrpc a failed call's status with its message cut to
// maxStatusMessage and its control characters escaped: otelgrpc makes the
// message the span's status, and the message is the plugin's, of any length
// and content, in a span of the host's service.
type boundedStatus struct{ stats.Handler }

func (b boundedStatus) HandleRPC(ctx context.Context, rs stats.RPCStats) {
	if end, ok := rs.(*stats.End); ok && end.Error != nil {
		st, _ := status.FromError(end.Error)
		if msg := st.Message(); len(msg) > maxStatusMessage || !printable.Clean(msg) {
			bounded := *end // the other handlers see the call as it ended
			bounded.Error = status.Error(st.Code(),
				printable.Cut(printable.Line(printable.Cut(msg, maxStatusMessage)), maxStatusMessage))
			rs = &bounded
		}
	}
	b.Handler.HandleRPC(ctx, rs)
}

// notTraceService leaves the span stream untraced: it lives as long as the plugin.
func notTraceService(info *stats.RPCTagInfo) bool {
	return !strings.HasPrefix(info.FullMethodName, "/"+connectorv1.TraceService_ServiceDesc.ServiceName+"/")
}

// Collect reads the plugin's span stream until it ends or ctx does, and takes
// every batch in. A plugin built without TraceService simply has no spans.
func (p *PluginSpans) Collect(ctx context.Context, cc grpc.ClientConnInterface) {
	if p == nil {
		return
	}
	stream, err := connectorv1.NewTraceServiceClient(cc).StreamSpans(ctx, &connectorv1.StreamSpansRequest{},
		grpc.MaxCallRecvMsgSize(MaxBatchBytes+1024))
	if err != nil {
		return
	}
	for {
		b, err := stream.Recv()
		if err != nil {
			if st := status.Convert(err); ctx.Err() == nil && st.Code() != codes.Unimplemented {
				// The plugin's words, bounded and on one line, as its
				// spans' status messages are.
				p.refuse(0, fmt.Errorf("the span stream ended: %s: %s", st.Code(),
					printable.Cut(printable.Line(printable.Cut(st.Message(), maxStatusMessage)), maxStatusMessage)))
			}
			return
		}
		batch := b.GetOtlpTraces()
		_, refused, err := p.Accept(batch) // refusals are counted and logged by Accept
		if !errors.Is(err, errByteBudget) && !errors.Is(err, errSpanBudget) {
			continue
		}
		// Past its budget, the plugin's stream is not read again until the
		// budget holds such a batch: gRPC's flow control holds the plugin
		// back, and its own queue drops what it cannot send, at no cost to
		// the host.
		t := time.NewTimer(p.spent(clock(), len(batch), refused))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}
