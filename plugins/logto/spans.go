package main

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// maxNodeSpans bounds the spans taken from one answer of the bridge.
const maxNodeSpans = 32

// nodeSpan is one request the connector made to its provider from Node, as the
// bridge reports it when the call carried a traceparent: times in milliseconds
// since the epoch, the URL without its query (which may hold tokens).
type nodeSpan struct {
	Method string  `json:"method"`
	URL    string  `json:"url"`
	Status int     `json:"status"`
	Error  string  `json:"error"`
	Start  float64 `json:"start"`
	End    float64 `json:"end"`
}

// traceparent is the W3C header of ctx's span when it is sampled, for the bridge
// to record the provider requests of the call; "" otherwise, and Node records none.
func traceparent(ctx context.Context) string {
	if !trace.SpanContextFromContext(ctx).IsSampled() {
		return ""
	}
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, carrier)
	return carrier["traceparent"]
}

// emitNodeSpans makes the bridge's records client spans of ctx's span. Node is
// the connector's code: its records are bounded and clamped into the call's time.
func emitNodeSpans(ctx context.Context, spans []nodeSpan, callStart, callEnd time.Time) {
	if len(spans) == 0 || !trace.SpanContextFromContext(ctx).IsSampled() {
		return
	}
	tracer := otel.Tracer("github.com/idplug/idplug/plugins/logto")
	for i, s := range spans {
		if i == maxNodeSpans {
			break
		}
		start, end := clampTime(s.Start, callStart, callEnd), clampTime(s.End, callStart, callEnd)
		if end.Before(start) {
			end = start
		}
		method := s.Method
		if !httpMethods[method] {
			method = "HTTP" // the semantic conventions' name for a method not known
		}
		attrs := []attribute.KeyValue{attribute.String("http.request.method", method)}
		if u, err := url.Parse(s.URL); err == nil && (u.Scheme == "http" || u.Scheme == "https") && len(s.URL) <= 2048 {
			u.RawQuery, u.Fragment, u.User = "", "", nil
			attrs = append(attrs, attribute.String("url.full", u.String()), attribute.String("server.address", u.Hostname()))
		}
		if s.Status > 0 && s.Status < 1000 {
			attrs = append(attrs, attribute.Int("http.response.status_code", s.Status))
		}
		_, span := tracer.Start(ctx, method, trace.WithSpanKind(trace.SpanKindClient),
			trace.WithTimestamp(start), trace.WithAttributes(attrs...))
		if s.Error != "" || s.Status >= 500 {
			span.SetStatus(otelcodes.Error, truncate(s.Error, 128))
		}
		span.End(trace.WithTimestamp(end))
	}
}

var httpMethods = map[string]bool{http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodConnect: true, http.MethodOptions: true, http.MethodTrace: true}

func clampTime(ms float64, lo, hi time.Time) time.Time {
	t := time.UnixMicro(int64(ms * 1000))
	switch {
	case t.Before(lo):
		return lo
	case t.After(hi):
		return hi
	}
	return t
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
