// Command spamspans is a connector plugin that abuses the span stream, for the
// host's tests. Once the host sent it a traced call, it sends, in order: bytes
// that are not OTLP; a batch just over the size limit; a batch of too many spans
// (named "too-many"); one batch mixing a good span ("mixed-ok", claiming to be the
// host's service) with spans of a trace the host never sent it, an oversized
// attribute, a list attribute, a zero span id and times out of order; a flood of
// 20 batches of 500 spans ("flood"); and a message over gRPC's limit, which ends
// the stream. Its second GetAuthorizationUri answers once the host has ended the
// stream, so the test knows every batch was handled.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/idplug/idplug/internal/plugintest/rawplugin"
	connectorv1 "github.com/idplug/idplug/proto/gen/idplug/connector/v1"
	collectorpb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
)

func main() {
	s := &server{traced: make(chan [2][]byte, 1), finished: make(chan struct{})}
	rawplugin.Serve(func(g *grpc.Server) {
		connectorv1.RegisterConnectorServiceServer(g, s)
		connectorv1.RegisterTraceServiceServer(g, s)
	})
}

type server struct {
	connectorv1.UnimplementedConnectorServiceServer
	connectorv1.UnimplementedTraceServiceServer
	once     sync.Once
	calls    sync.Mutex
	n        int
	traced   chan [2][]byte // the trace and span id of the first traced call
	finished chan struct{}  // closed once the host ended the stream
}

func (*server) GetMetadata(context.Context, *connectorv1.GetMetadataRequest) (*connectorv1.GetMetadataResponse, error) {
	return &connectorv1.GetMetadataResponse{Metadata: &connectorv1.Metadata{
		Id: "spamspans", Target: "spamspans", Platform: connectorv1.Platform_PLATFORM_UNIVERSAL, IsStandard: true,
		Name: map[string]string{"en": "Spam spans"}, Description: map[string]string{"en": "Abuses the span stream."},
	}}, nil
}

func (*server) ValidateConfig(context.Context, *connectorv1.ValidateConfigRequest) (*connectorv1.ValidateConfigResponse, error) {
	return &connectorv1.ValidateConfigResponse{}, nil
}

func (s *server) GetAuthorizationUri(ctx context.Context, _ *connectorv1.GetAuthorizationUriRequest) (*connectorv1.GetAuthorizationUriResponse, error) {
	s.calls.Lock()
	s.n++
	n := s.n
	s.calls.Unlock()
	if n == 1 {
		md, _ := metadata.FromIncomingContext(ctx)
		tp := strings.Split(strings.Join(md.Get("traceparent"), ""), "-")
		if len(tp) != 4 {
			return nil, errors.New("the first call carried no traceparent")
		}
		tid, _ := hex.DecodeString(tp[1])
		sid, _ := hex.DecodeString(tp[2])
		s.once.Do(func() { s.traced <- [2][]byte{tid, sid} })
		return &connectorv1.GetAuthorizationUriResponse{RedirectTo: "https://spam.test/first"}, nil
	}
	select {
	case <-s.finished:
		return &connectorv1.GetAuthorizationUriResponse{RedirectTo: "https://spam.test/finished"}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *server) StreamSpans(_ *connectorv1.StreamSpansRequest, stream connectorv1.TraceService_StreamSpansServer) error {
	var ids [2][]byte
	select {
	case ids = <-s.traced:
	case <-stream.Context().Done():
		return nil
	}
	tid, parent := ids[0], ids[1]
	send := func(b []byte) { _ = stream.Send(&connectorv1.StreamSpansResponse{OtlpTraces: b}) }
	batch := func(service string, spans ...*tracepb.Span) []byte {
		b, _ := proto.Marshal(&collectorpb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
			Resource:   &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", service)}},
			ScopeSpans: []*tracepb.ScopeSpans{{Spans: spans}},
		}}})
		return b
	}
	now := uint64(time.Now().UnixNano())
	span := func(name string, trace []byte) *tracepb.Span {
		return &tracepb.Span{TraceId: trace, SpanId: randomBytes(8), ParentSpanId: parent, Name: name,
			Kind: tracepb.Span_SPAN_KIND_CLIENT, StartTimeUnixNano: now, EndTimeUnixNano: now + 1000}
	}

	send([]byte("this is not an OTLP export request \xff\xfe"))
	send(make([]byte, 1<<20+1))
	var many []*tracepb.Span
	for range 600 {
		many = append(many, span("too-many", tid))
	}
	send(batch("idplug-connector-spamspans", many...))

	foreign := span("foreign-trace", randomBytes(16))
	huge := span("huge-attribute", tid)
	huge.Attributes = []*commonpb.KeyValue{str("blob", strings.Repeat("x", 10_000))}
	list := span("list-attribute", tid)
	list.Attributes = []*commonpb.KeyValue{{Key: "list", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{
		ArrayValue: &commonpb.ArrayValue{Values: []*commonpb.AnyValue{{Value: &commonpb.AnyValue_StringValue{StringValue: "a"}}}}}}}}
	zero := span("zero-span-id", tid)
	zero.SpanId = make([]byte, 8)
	backwards := span("backwards", tid)
	backwards.EndTimeUnixNano = now - 1
	send(batch("idplug", span("mixed-ok", tid), foreign, huge, list, zero, backwards))

	for range 20 {
		var flood []*tracepb.Span
		for range 500 {
			flood = append(flood, span("flood", tid))
		}
		send(batch("idplug-connector-spamspans", flood...))
	}
	send(make([]byte, 8<<20))
	<-stream.Context().Done() // the host ended the stream: it handled every batch before
	close(s.finished)
	return nil
}

func str(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
