package otlpwire

import (
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// Raw wraps the content of a ResourceSpans, already in the wire form, in a
// message that the otlptrace clients marshal by copying it: the bytes are the
// message's unknown fields, which protobuf writes out as they are. The client
// keeps its handling of the OTEL_EXPORTER_OTLP_* variables, retries, TLS,
// headers and compression; only the second encoding goes.
func Raw(content []byte) *tracepb.ResourceSpans {
	rs := &tracepb.ResourceSpans{}
	rs.ProtoReflect().SetUnknown(content)
	return rs
}
