package tracing

import (
	"context"
	"net"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/idplug/idplug/host/accesslog"
	"github.com/idplug/idplug/internal/printable"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// Handler traces every request h serves: a server span per the HTTP semantic
// conventions, named "{method} {route}" once the route is known (Finish), that
// continues the caller's W3C trace context. Off, h is returned as is.
//
// Not otelhttp's handler: it builds its metric attributes on every request even
// with no meter, and most of its cost falls on requests that are not sampled
// (BENCHMARKS.md, "Tracing"). Here an unsampled request costs a header parse and
// a non-recording span; attributes are made only for a recording one.
func (t *Tracing) Handler(h http.Handler) http.Handler {
	if t == nil {
		return h
	}
	tracer := t.provider.Tracer(scopeName)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isProbe(r) {
			h.ServeHTTP(w, r)
			return
		}
		ctx := boundTraceState(t.propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header)))
		ctx, span := tracer.Start(ctx, method(r.Method), trace.WithSpanKind(trace.SpanKindServer))
		defer span.End()
		if span.IsRecording() {
			span.SetAttributes(requestAttributes(r)...)
		}
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// scopeName is the instrumentation scope of the host's own spans.
const scopeName = "github.com/idplug/idplug/host/tracing"

// boundTraceState drops a caller's trace state longer than a plugin's spans may
// carry (maxTraceStateBytes), keeping its traceparent: passed on to the plugin,
// it would have the intake refuse every span of the plugin in that trace.
func boundTraceState(ctx context.Context) context.Context {
	sc := trace.SpanContextFromContext(ctx)
	if sc.TraceState().Len() == 0 || len(sc.TraceState().String()) <= maxTraceStateBytes {
		return ctx
	}
	return trace.ContextWithRemoteSpanContext(ctx, sc.WithTraceState(trace.TraceState{}))
}

// Bounds of what a request puts in its span, in bytes: a request line or a
// header may be 64 KiB. (otlpwire bounds every other string, at 4 KiB.)
const (
	maxPathBytes      = 1024
	maxUserAgentBytes = 256
	maxHostBytes      = 256
)

// text is s valid UTF-8, an invalid byte made U+FFFD, and cut to n bytes on a
// character boundary. Made valid here, not only as otlpwire writes it, so that
// a U+FFFD (3 bytes for 1) stays within n.
func text(s string, n int) string {
	s = printable.Cut(s, n) // first, to bound the work
	if !utf8.ValidString(s) {
		s = printable.Cut(strings.ToValidUTF8(s, "\uFFFD"), n)
	}
	return s
}

func requestAttributes(r *http.Request) []attribute.KeyValue {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	attrs := []attribute.KeyValue{
		semconv.HTTPRequestMethodKey.String(method(r.Method)),
		semconv.URLScheme(scheme),
		// Never the query (it carries codes and states), and a vault route's
		// user id hashed, as the access log shows it.
		semconv.URLPath(text(accesslog.Path(r), maxPathBytes)),
		semconv.ServerAddress(text(hostOnly(r.Host), maxHostBytes)),
	}
	if ua := r.UserAgent(); ua != "" {
		attrs = append(attrs, semconv.UserAgentOriginal(text(ua, maxUserAgentBytes)))
	}
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		attrs = append(attrs, semconv.NetworkPeerAddress(ip))
	}
	if r.ProtoMajor > 0 {
		attrs = append(attrs, semconv.NetworkProtocolVersion(strings.TrimPrefix(r.Proto, "HTTP/")))
	}
	return attrs
}

// Finish names the request's span after its route and records its status; the
// access log calls it once the router has run.
func Finish(ctx context.Context, httpMethod, route string, status int) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	// One call: each grows the span's attributes.
	if route != "" {
		span.SetName(method(httpMethod) + " " + route)
		span.SetAttributes(semconv.HTTPRoute(route), semconv.HTTPResponseStatusCode(status))
	} else {
		span.SetAttributes(semconv.HTTPResponseStatusCode(status))
	}
	if status >= 500 { // a 4xx is the caller's error, not the server's
		span.SetStatus(codes.Error, "")
	}
}

// method is the method as the conventions name it: "_OTHER" for one not known.
func method(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return m
	}
	return "_OTHER"
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

// isProbe tells health checks and metric scrapes, left untraced: they come every
// few seconds and say nothing about a sign-in.
func isProbe(r *http.Request) bool {
	p := r.URL.Path
	return strings.HasSuffix(p, "/healthz") || strings.HasSuffix(p, "/readyz") || strings.HasSuffix(p, "/metrics")
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

// TraceID is the id of the trace ctx is part of, or "" outside of one.
func TraceID(ctx context.Context) string {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		return sc.TraceID().String()
	}
	return ""
}
