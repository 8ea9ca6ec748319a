// Package otlptest is an OTLP trace receiver for tests: the real collector
// service of go.opentelemetry.io/proto/otlp over gRPC, and its HTTP/protobuf
// form at /v1/traces, both on loopback, both stopped when the test ends.
package otlptest

import (
	"compress/gzip"
	"context"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	collectorpb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// maxBody caps one HTTP export.
const maxBody = 16 << 20

// Span is a received span, flattened.
type Span struct {
	TraceID, SpanID, ParentID string // hex; ParentID "" for a root
	Name                      string
	Kind                      tracepb.Span_SpanKind
	Service                   string // the resource's service.name
	Attributes                map[string]string
	Start, End                time.Time
	Via                       string // "grpc" or "http"
}

// Receiver collects every span exported to it.
type Receiver struct {
	collectorpb.UnimplementedTraceServiceServer
	// GRPCEndpoint is http://127.0.0.1:PORT for OTLP over gRPC; HTTPEndpoint the
	// base URL for OTLP over HTTP (spans are posted to /v1/traces under it).
	GRPCEndpoint, HTTPEndpoint string

	discard bool // count exports only, as a collector elsewhere would cost the host nothing more
	exports atomic.Int64

	mu      sync.Mutex
	spans   []Span
	changed chan struct{}
}

// Start runs a receiver until the test ends.
func Start(t testing.TB) *Receiver {
	t.Helper()
	return start(t, &Receiver{changed: make(chan struct{})})
}

// StartDiscarding runs a receiver that only counts exports, for benchmarks: what
// it costs to decode them is a collector's cost, not the exporter's.
func StartDiscarding(t testing.TB) *Receiver {
	t.Helper()
	return start(t, &Receiver{changed: make(chan struct{}), discard: true})
}

// Exports counts the export requests received.
func (r *Receiver) Exports() int64 { return r.exports.Load() }

func start(t testing.TB, r *Receiver) *Receiver {
	gl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	collectorpb.RegisterTraceServiceServer(gs, r)
	go func() { _ = gs.Serve(gl) }()
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", r.serveHTTP)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(hl) }()
	t.Cleanup(func() {
		gs.Stop()
		_ = hs.Close()
	})
	r.GRPCEndpoint = "http://" + gl.Addr().String()
	r.HTTPEndpoint = "http://" + hl.Addr().String()
	return r
}

// Export implements the OTLP collector's gRPC service.
func (r *Receiver) Export(_ context.Context, req *collectorpb.ExportTraceServiceRequest) (*collectorpb.ExportTraceServiceResponse, error) {
	r.exports.Add(1)
	r.add(req, "grpc")
	return &collectorpb.ExportTraceServiceResponse{}, nil
}

func (r *Receiver) serveHTTP(w http.ResponseWriter, req *http.Request) {
	var body io.Reader = http.MaxBytesReader(w, req.Body, maxBody)
	if req.Header.Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = io.LimitReader(gz, maxBody)
	}
	if r.discard {
		if _, err := io.Copy(io.Discard, body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.exports.Add(1)
		w.Header().Set("Content-Type", "application/x-protobuf")
		return // an empty body is an empty ExportTraceServiceResponse
	}
	data, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.exports.Add(1)
	var msg collectorpb.ExportTraceServiceRequest
	if err := proto.Unmarshal(data, &msg); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.add(&msg, "http")
	out, _ := proto.Marshal(&collectorpb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func (r *Receiver) add(req *collectorpb.ExportTraceServiceRequest, via string) {
	var got []Span
	for _, rs := range req.GetResourceSpans() {
		service := attrs(rs.GetResource().GetAttributes())["service.name"]
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				got = append(got, Span{
					TraceID: hex.EncodeToString(s.GetTraceId()), SpanID: hex.EncodeToString(s.GetSpanId()),
					ParentID: hex.EncodeToString(s.GetParentSpanId()), Name: s.GetName(), Kind: s.GetKind(),
					Service: service, Attributes: attrs(s.GetAttributes()), Via: via,
					Start: time.Unix(0, int64(s.GetStartTimeUnixNano())), End: time.Unix(0, int64(s.GetEndTimeUnixNano())),
				})
			}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.spans = append(r.spans, got...)
	close(r.changed)
	r.changed = make(chan struct{})
}

func attrs(kvs []*commonpb.KeyValue) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		switch v := kv.GetValue().GetValue().(type) {
		case *commonpb.AnyValue_StringValue:
			m[kv.GetKey()] = v.StringValue
		default:
			m[kv.GetKey()] = kv.GetValue().String()
		}
	}
	return m
}

// Spans is every span received so far.
func (r *Receiver) Spans() []Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Span(nil), r.spans...)
}

// WaitFor returns the spans received once done says they are complete, or
// fails the test when they are not within timeout.
func (r *Receiver) WaitFor(t testing.TB, timeout time.Duration, done func([]Span) bool) []Span {
	t.Helper()
	deadline := time.After(timeout)
	for {
		r.mu.Lock()
		spans, changed := append([]Span(nil), r.spans...), r.changed
		r.mu.Unlock()
		if done(spans) {
			return spans
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("the spans received within %s are not complete:\n%s", timeout, Describe(spans))
			return nil
		}
	}
}

// Describe lists spans one a line, for failure messages.
func Describe(spans []Span) string {
	var b []byte
	for _, s := range spans {
		b = append(b, (s.Service + " " + s.Name + " trace=" + s.TraceID + " span=" + s.SpanID + " parent=" + s.ParentID + " via=" + s.Via + "\n")...)
	}
	return string(b)
}
