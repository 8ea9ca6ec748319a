package sdk

import (
	"context"
	"os"
	"strconv"
	"strings"

	"github.com/idplug/idplug/internal/wire"
	connectorv1 "github.com/idplug/idplug/proto/gen/idplug/connector/v1"
	"github.com/idplug/idplug/sdk/internal/traces"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/propagation"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
)

// startTraces turns tracing on when the host asked for it: every call the host
// sampled gets a server span, oauth2kit's provider requests become its children,
// and so do an author's own spans (otel.Tracer(...).Start(ctx, ...) with the
// call's ctx). The spans go back to the host over TraceService.
func startTraces(service string) *traces.Recorder {
	if os.Getenv(wire.EnvTracing) != "1" {
		return nil
	}
	return traces.Start(wire.PluginFilePrefix + service)
}

// traceServerOptions is the gRPC server side of tracing: a server span per call,
// parented by the host's client span through the W3C trace context.
func traceServerOptions(rec *traces.Recorder) []grpc.ServerOption {
	if rec == nil {
		return nil
	}
	return []grpc.ServerOption{
		grpc.StatsHandler(sampledCalls{otelgrpc.NewServerHandler(
			otelgrpc.WithTracerProvider(rec.Provider),
			otelgrpc.WithPropagators(propagation.TraceContext{}),
			otelgrpc.WithFilter(notTraceService),
		)})}
}

// sampledCalls hands otelgrpc only the calls whose traceparent says sampled: it
// would record nothing for the others, yet build attributes and metrics for each.
type sampledCalls struct{ inner stats.Handler }

type skipKey struct{}

func (s sampledCalls) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	if !sampledParent(ctx) {
		return context.WithValue(ctx, skipKey{}, true)
	}
	return s.inner.TagRPC(ctx, info)
}

func (s sampledCalls) HandleRPC(ctx context.Context, st stats.RPCStats) {
	if ctx.Value(skipKey{}) == nil {
		s.inner.HandleRPC(ctx, st)
	}
}

func (s sampledCalls) TagConn(ctx context.Context, info *stats.ConnTagInfo) context.Context {
	return s.inner.TagConn(ctx, info)
}
func (s sampledCalls) HandleConn(ctx context.Context, st stats.ConnStats) {
	s.inner.HandleConn(ctx, st)
}

// sampledParent reads the sampled flag of the call's W3C traceparent
// ("00-<trace>-<span>-<flags>"), without parsing the rest: otelgrpc does that.
func sampledParent(ctx context.Context) bool {
	v := metadata.ValueFromIncomingContext(ctx, "traceparent") // not FromIncomingContext: it copies every header
	if len(v) != 1 || len(v[0]) < 2 {
		return false
	}
	flags, err := strconv.ParseUint(v[0][len(v[0])-2:], 16, 8)
	return err == nil && flags&1 == 1
}

// notTraceService leaves the span stream itself untraced: it lives as long as the process.
func notTraceService(info *stats.RPCTagInfo) bool {
	return !strings.HasPrefix(info.FullMethodName, "/"+connectorv1.TraceService_ServiceDesc.ServiceName+"/")
}

// traceServer hands finished span batches to the host.
type traceServer struct {
	connectorv1.UnimplementedTraceServiceServer
	rec *traces.Recorder
}

func (s traceServer) StreamSpans(_ *connectorv1.StreamSpansRequest, stream connectorv1.TraceService_StreamSpansServer) error {
	for {
		select {
		case <-stream.Context().Done():
			return nil
		case b := <-s.rec.Batches():
			if err := stream.Send(&connectorv1.StreamSpansResponse{OtlpTraces: b}); err != nil {
				return err
			}
		}
	}
}
