package otlpwire

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	collectorpb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// recordSpans makes spans of every kind of content a span can carry.
func recordSpans(t *testing.T) []sdktrace.ReadOnlySpan {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	res := resource.NewWithAttributes("https://schema.test/1", attribute.String("service.name", "svc"), attribute.Int("n", 3))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithResource(res))
	defer func() { _ = tp.Shutdown(context.Background()) }()

	ts, _ := trace.ParseTraceState("k1=v1,k2=v2")
	remote := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1, 2, 3}, SpanID: trace.SpanID{4, 5, 6}, TraceFlags: trace.FlagsSampled,
		TraceState: ts, Remote: true,
	})
	ctx := trace.ContextWithRemoteSpanContext(context.Background(), remote)
	a := tp.Tracer("scope-a", trace.WithInstrumentationVersion("1.2"), trace.WithSchemaURL("https://schema.test/a"),
		trace.WithInstrumentationAttributes(attribute.String("lib", "x")))
	b := tp.Tracer("scope-b")

	ctx, s1 := a.Start(ctx, "GET /v1/x", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithLinks(trace.Link{SpanContext: remote, Attributes: []attribute.KeyValue{attribute.Bool("l", true)}}),
		trace.WithAttributes(
			attribute.String("s", "v"), attribute.String("long", strings.Repeat("y", 300)),
			// Over 16 KiB: lengths of three varint bytes, of strings within MaxString.
			attribute.StringSlice("huge", slices.Repeat([]string{strings.Repeat("z", MaxString)}, 18)),
			attribute.Bool("b", true), attribute.Int64("i", -7), attribute.Float64("f", 2.5),
			attribute.StringSlice("ss", []string{"a", "b"}), attribute.Int64Slice("is", []int64{1, -2}),
			attribute.BoolSlice("bs", []bool{true, false}), attribute.Float64Slice("fs", []float64{0.5}),
		))
	s1.AddEvent("ev", trace.WithAttributes(attribute.String("e", "1")), trace.WithTimestamp(time.Unix(5, 6)))
	s1.SetStatus(codes.Error, "broke")
	_, s2 := b.Start(ctx, "call", trace.WithSpanKind(trace.SpanKindClient))
	s2.SetStatus(codes.Ok, "")
	s2.End()
	_, s3 := a.Start(ctx, "inner")
	s3.End()
	s1.End()
	return rec.Ended()
}

// converted is what the OpenTelemetry OTLP exporter makes of spans.
func converted(t *testing.T, spans []sdktrace.ReadOnlySpan) *collectorpb.ExportTraceServiceRequest {
	t.Helper()
	var c grab
	exp, err := otlptrace.New(context.Background(), &c)
	if err != nil {
		t.Fatal(err)
	}
	if err := exp.ExportSpans(context.Background(), spans); err != nil {
		t.Fatal(err)
	}
	return &collectorpb.ExportTraceServiceRequest{ResourceSpans: c.got}
}

type grab struct{ got []*tracepb.ResourceSpans }

func (*grab) Start(context.Context) error { return nil }
func (*grab) Stop(context.Context) error  { return nil }
func (g *grab) UploadTraces(_ context.Context, rs []*tracepb.ResourceSpans) error {
	g.got = rs
	return nil
}

func TestEncodingMatchesTheOTLPExporter(t *testing.T) {
	spans := recordSpans(t)
	want := converted(t, spans)
	var got collectorpb.ExportTraceServiceRequest
	if err := proto.Unmarshal(appendRequest(nil, AppendResourceSpans(nil, spans)), &got); err != nil {
		t.Fatal(err)
	}
	// The exporter leaves the trace state of links out; this keeps it.
	for _, rs := range got.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				for _, l := range s.Links {
					if l.TraceState != "k1=v1,k2=v2" {
						t.Errorf("link trace state = %q", l.TraceState)
					}
					l.TraceState = ""
				}
			}
		}
	}
	if !proto.Equal(want, &got) {
		t.Fatalf("the encoding differs from the exporter's:\nexporter:\n%s\nhere:\n%s",
			prototext.Format(want), prototext.Format(&got))
	}
}

// TestStringsAreValidAndBounded: a collector refuses a whole export request for
// one string that is not UTF-8 (protobuf's rule) or for its size, so whatever a
// request put in a span (a path decoded to byte 0xFF, a header of 60 KiB) is
// written valid and cut, on a character boundary, to MaxString.
func TestStringsAreValidAndBounded(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	long := strings.Repeat("a", MaxString-1) + "é" // the cut falls inside the é
	_, s := tp.Tracer("scope\xff").Start(context.Background(), "GET /x\xff", trace.WithAttributes(
		attribute.String("url.path", "/x\xff\xfey"), attribute.String("long", long),
		attribute.String("huge", strings.Repeat("z", 70_000)), attribute.String("empty", ""),
		attribute.StringSlice("list", []string{"ok", "\xc3"}), attribute.String("key\xff", "v")))
	s.AddEvent("event\xff", trace.WithAttributes(attribute.String("e", "\xed\xa0\x80"))) // a surrogate
	s.SetStatus(codes.Error, "FORGED\xff"+strings.Repeat("x", 20_000))
	s.End()
	_ = tp.Shutdown(context.Background())

	var got collectorpb.ExportTraceServiceRequest
	if err := proto.Unmarshal(appendRequest(nil, AppendResourceSpans(nil, rec.Ended())), &got); err != nil {
		t.Fatalf("a collector would refuse the request: %v", err)
	}
	ss := got.ResourceSpans[0].ScopeSpans[0]
	span := ss.Spans[0]
	values := map[string]string{}
	for _, kv := range span.Attributes {
		values[kv.Key] = kv.Value.GetStringValue()
		if l := kv.Value.GetArrayValue(); l != nil {
			values[kv.Key] = l.Values[0].GetStringValue() + "," + l.Values[1].GetStringValue()
		}
	}
	for k, want := range map[string]string{
		"url.path": "/x\uFFFD\uFFFDy", "long": long[:MaxString-1], "huge": strings.Repeat("z", MaxString),
		"list": "ok,\uFFFD", "key\uFFFD": "v",
	} {
		if values[k] != want {
			t.Errorf("%s = %.40q (%d bytes), want %.40q (%d bytes)", k, values[k], len(values[k]), want, len(want))
		}
	}
	if v, ok := values["empty"]; !ok || v != "" {
		t.Errorf("the empty value was not written as one")
	}
	if ss.Scope.Name != "scope\uFFFD" || span.Name != "GET /x\uFFFD" || span.Events[0].Name != "event\uFFFD" ||
		span.Events[0].Attributes[0].Value.GetStringValue() != "\uFFFD\uFFFD\uFFFD" {
		t.Errorf("scope %q, name %q, event %q %q", ss.Scope.Name, span.Name, span.Events[0].Name, span.Events[0].Attributes[0].Value.GetStringValue())
	}
	if m := span.Status.Message; len(m) != MaxString || !strings.HasPrefix(m, "FORGED\uFFFDxxx") {
		t.Errorf("status message of %d bytes: %.20q", len(m), m)
	}
}

func TestRawIsCopiedAsIs(t *testing.T) {
	content := AppendResourceSpans(nil, recordSpans(t))
	b, err := proto.Marshal(&collectorpb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{Raw(content), Raw(content)}})
	if err != nil {
		t.Fatal(err)
	}
	one := appendRequest(nil, content)
	if !bytes.Equal(b, append(append([]byte(nil), one...), one...)) {
		t.Fatal("a raw ResourceSpans was not marshalled as its bytes")
	}
}

func TestNoSpansNoBytes(t *testing.T) {
	if b := AppendResourceSpans(nil, nil); len(b) != 0 {
		t.Fatalf("%d bytes for no spans", len(b))
	}
}

// signInSpans are a sampled sign-in's four host spans, as the host records them.
func signInSpans() []sdktrace.ReadOnlySpan {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "idplug"))))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	tr := tp.Tracer("github.com/idplug/idplug/host/tracing")
	for _, route := range []string{"/v1/connectors/{id}/authorization-uri", "/v1/connectors/{id}/user-info"} {
		ctx, s := tr.Start(context.Background(), "POST "+route, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(
			attribute.String("http.request.method", "POST"), attribute.String("url.scheme", "http"),
			attribute.String("url.path", "/v1/connectors/fresh/user-info"), attribute.String("server.address", "127.0.0.1"),
			attribute.String("network.peer.address", "127.0.0.1"), attribute.String("network.protocol.version", "1.1"),
			attribute.String("http.route", route), attribute.Int("http.response.status_code", 200)))
		_, c := tr.Start(ctx, "idplug.connector.v1.ConnectorService/GetUserInfo", trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(attribute.String("rpc.system.name", "grpc"), attribute.String("rpc.method", "idplug.connector.v1.ConnectorService/GetUserInfo"),
				attribute.String("rpc.response.status_code", "OK")))
		c.End()
		s.End()
	}
	return rec.Ended()
}

// BenchmarkEncode compares the direct encoding of a sign-in's four host spans
// with the OTLP exporter's conversion and marshalling.
// Run with: go test -run '^$' -bench . -benchmem ./internal/otlpwire/
func BenchmarkEncode(b *testing.B) {
	spans := signInSpans()
	b.Run("otlpwire", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			buf = AppendResourceSpans(buf[:0], spans)
		}
	})
	b.Run("exporter", func(b *testing.B) {
		var c grab
		exp, _ := otlptrace.New(context.Background(), &c)
		for b.Loop() {
			_ = exp.ExportSpans(context.Background(), spans)
			_, _ = proto.Marshal(&collectorpb.ExportTraceServiceRequest{ResourceSpans: c.got})
		}
	})
}

// appendRequest appends an ExportTraceServiceRequest of one ResourceSpans whose
// content is rs.
func appendRequest(b, rs []byte) []byte {
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	return protowire.AppendBytes(b, rs)
}
