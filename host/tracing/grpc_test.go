package tracing

import (
	"context"
	"net"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hashicorp/go-hclog"
	"github.com/idplug/idplug/internal/printable"
	connectorv1 "github.com/idplug/idplug/proto/gen/idplug/connector/v1"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// failing answers every authorization call with the error it holds.
type failing struct {
	connectorv1.UnimplementedConnectorServiceServer
	err error
}

func (f failing) GetAuthorizationUri(context.Context, *connectorv1.GetAuthorizationUriRequest) (*connectorv1.GetAuthorizationUriResponse, error) {
	return nil, f.err
}

// TestAPluginsStatusMessageIsBoundedInTheHostsSpan: otelgrpc makes a failed
// call's status message the status of the host's span, and the message is the
// plugin's: 20 KB holding escape sequences went into a span of the host's
// service. The span carries the code and the message cut, valid UTF-8, with
// its control characters escaped; the caller still gets the message whole.
func TestAPluginsStatusMessageIsBoundedInTheHostsSpan(t *testing.T) {
	const forged = "FORGED\x1b[2J\n[ERROR] idplug: \xff"
	message := forged + strings.Repeat("x", 20_000)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	connectorv1.RegisterConnectorServiceServer(srv, failing{err: status.Error(codes.Internal, message)})
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)

	rec := tracetest.NewSpanRecorder()
	tr := &Tracing{provider: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)),
		propagator: propagation.TraceContext{}, log: hclog.NewNullLogger()}
	opts := append(tr.Plugin("failing").DialOptions(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	cc, err := grpc.NewClient("passthrough:///"+l.Addr().String(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, root := tr.provider.Tracer("test").Start(context.Background(), "request")
	_, callErr := connectorv1.NewConnectorServiceClient(cc).GetAuthorizationUri(ctx, &connectorv1.GetAuthorizationUriRequest{})
	root.End()
	if m := status.Convert(callErr).Message(); len(m) < len(message) {
		t.Errorf("the caller got %d bytes of the plugin's %d", len(m), len(message))
	}

	var client sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.SpanKind() == trace.SpanKindClient {
			client = s
		}
	}
	if client == nil {
		t.Fatal("no client span")
	}
	st := client.Status()
	if st.Code.String() != "Error" || len(st.Description) > maxStatusMessage || !printable.Clean(st.Description) ||
		!utf8.ValidString(st.Description) || !strings.HasPrefix(st.Description, `FORGED\x1b[2J\n[ERROR] idplug: `+"\uFFFD") {
		t.Errorf("the host's span has status %v, %d bytes: %.60q", st.Code, len(st.Description), st.Description)
	}
}
