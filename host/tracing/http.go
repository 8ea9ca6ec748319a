package tracing

import (
	"context"
	"net/http"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/metric/noop"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// Handler traces every request h serves: a server span named "{method} {route}"
// once the route is known (the semantic conventions' name), continuing the
// caller's W3C trace context. Off, h is returned as is.
func (t *Tracing) Handler(h http.Handler) http.Handler {
	if t == nil {
		return h
	}
	return otelhttp.NewHandler(h, "http",
		otelhttp.WithTracerProvider(t.provider),
		otelhttp.WithPropagators(t.propagator),
		otelhttp.WithMeterProvider(noop.NewMeterProvider()), // /metrics has its own
		otelhttp.WithFilter(notProbe),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			if route := Route(r.Pattern); route != "" {
				return r.Method + " " + route
			}
			return r.Method
		}))
}

// notProbe leaves health checks and metric scrapes untraced: they come every few
// seconds and say nothing about a sign-in.
func notProbe(r *http.Request) bool {
	p := r.URL.Path
	return !strings.HasSuffix(p, "/healthz") && !strings.HasSuffix(p, "/readyz") && !strings.HasSuffix(p, "/metrics")
}

// Route is the path part of a ServeMux pattern ("GET /v1/x/{id}" → "/v1/x/{id}").
func Route(pattern string) string {
	if i := strings.IndexByte(pattern, ' '); i >= 0 {
		pattern = pattern[i+1:]
	}
	if i := strings.IndexByte(pattern, '/'); i > 0 {
		pattern = pattern[i:] // a host in the pattern is not part of the route
	}
	return pattern
}

// SetRoute records the matched route on the request's span.
func SetRoute(ctx context.Context, route string) {
	if span := trace.SpanFromContext(ctx); span.IsRecording() && route != "" {
		span.SetAttributes(semconv.HTTPRoute(route))
	}
}

// TraceID is the id of the trace ctx is part of, or "" outside of one.
func TraceID(ctx context.Context) string {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		return sc.TraceID().String()
	}
	return ""
}
