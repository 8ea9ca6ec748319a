package sdk

import (
	"os"
	"strings"

	"github.com/idplug/idplug/internal/wire"
	connectorv1 "github.com/idplug/idplug/proto/gen/idplug/connector/v1"
	"github.com/idplug/idplug/sdk/internal/traces"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/propagation"
	"google.golang.org/grpc"
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
	return []grpc.ServerOption{grpc.StatsHandler(otelgrpc.NewServerHandler(
		otelgrpc.WithTracerProvider(rec.Provider),
		otelgrpc.WithPropagators(propagation.TraceContext{}),
		otelgrpc.WithFilter(notTraceService),
	))}
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
