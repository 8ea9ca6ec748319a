// Package otlpwire writes finished OpenTelemetry spans straight into the OTLP
// protobuf wire form, and hands bytes so written to the otlptrace clients
// without a second encoding. It replaces the exporter's conversion into the
// generated OTLP structs and their reflective marshalling, which was most of
// what a recorded span cost its process (BENCHMARKS.md, "Tracing").
//
// Every string is written valid UTF-8 and at most MaxString bytes: protobuf's
// string fields must be UTF-8, and a collector refuses a whole export request
// for one that is not, or for its size, losing every other span in it.
//
// Field numbers are those of opentelemetry-proto's trace.proto, common.proto
// and resource.proto (go.opentelemetry.io/proto/otlp v1).
package otlpwire

import (
	"math"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/encoding/protowire"
)

// Flags of a span (SpanFlags in trace.proto): the W3C trace flags in the low
// byte, and whether the parent was remote.
const (
	FlagHasIsRemote = 0x100
	FlagIsRemote    = 0x200
)

// AppendResourceSpans appends the content of one OTLP ResourceSpans message
// (resource, scope spans; no tag or length of its own) holding spans, all of
// which come from one tracer provider and so share spans[0]'s resource.
func AppendResourceSpans(b []byte, spans []sdktrace.ReadOnlySpan) []byte {
	if len(spans) == 0 {
		return b
	}
	res := spans[0].Resource()
	b = AppendResource(b, res)
	// Spans of one scope go together; a provider has few scopes, so the scopes
	// seen are kept in a short list, not a map.
	var scopes []instrumentation.Scope
	for _, s := range spans {
		sc := s.InstrumentationScope()
		seen := false
		for _, x := range scopes {
			if x == sc {
				seen = true
				break
			}
		}
		if seen {
			continue
		}
		scopes = append(scopes, sc)
		at := begin(&b, 2) // ResourceSpans.scope_spans
		if sc != (instrumentation.Scope{}) {
			sat := begin(&b, 1) // ScopeSpans.scope
			b = appendString(b, 1, sc.Name)
			b = appendString(b, 2, sc.Version)
			b = appendAttrSet(b, 3, sc.Attributes)
			end(&b, sat)
		}
		for _, t := range spans {
			if t.InstrumentationScope() == sc {
				sp := begin(&b, 2) // ScopeSpans.spans
				b = appendSpan(b, t)
				end(&b, sp)
			}
		}
		b = appendString(b, 3, sc.SchemaURL)
		end(&b, at)
	}
	if res != nil {
		b = appendString(b, 3, res.SchemaURL()) // ResourceSpans.schema_url
	}
	return b
}

// AppendResource appends res as field 1 of a ResourceSpans.
func AppendResource(b []byte, res *resource.Resource) []byte {
	if res == nil {
		return b
	}
	at := begin(&b, 1)
	for it := res.Iter(); it.Next(); {
		b = appendKeyValue(b, 1, it.Attribute())
	}
	end(&b, at)
	return b
}

func appendSpan(b []byte, s sdktrace.ReadOnlySpan) []byte {
	sc := s.SpanContext()
	tid, sid := sc.TraceID(), sc.SpanID()
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendBytes(b, tid[:])
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendBytes(b, sid[:])
	if ts := sc.TraceState(); ts.Len() > 0 {
		b = appendString(b, 3, ts.String())
	}
	parent := s.Parent()
	if psid := parent.SpanID(); psid.IsValid() {
		b = protowire.AppendTag(b, 4, protowire.BytesType)
		b = protowire.AppendBytes(b, psid[:])
	}
	b = appendString(b, 5, s.Name())
	if k := spanKind(s.SpanKind()); k != 0 {
		b = protowire.AppendTag(b, 6, protowire.VarintType)
		b = protowire.AppendVarint(b, k)
	}
	b = protowire.AppendTag(b, 7, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, unixNano(s.StartTime().UnixNano()))
	b = protowire.AppendTag(b, 8, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, unixNano(s.EndTime().UnixNano()))
	for _, kv := range s.Attributes() {
		b = appendKeyValue(b, 9, kv)
	}
	b = appendCount(b, 10, s.DroppedAttributes())
	for _, e := range s.Events() {
		at := begin(&b, 11)
		b = protowire.AppendTag(b, 1, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, unixNano(e.Time.UnixNano()))
		b = appendString(b, 2, e.Name)
		for _, kv := range e.Attributes {
			b = appendKeyValue(b, 3, kv)
		}
		b = appendCount(b, 4, e.DroppedAttributeCount)
		end(&b, at)
	}
	b = appendCount(b, 12, s.DroppedEvents())
	for _, l := range s.Links() {
		at := begin(&b, 13)
		ltid, lsid := l.SpanContext.TraceID(), l.SpanContext.SpanID()
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendBytes(b, ltid[:])
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendBytes(b, lsid[:])
		if ts := l.SpanContext.TraceState(); ts.Len() > 0 {
			b = appendString(b, 3, ts.String())
		}
		for _, kv := range l.Attributes {
			b = appendKeyValue(b, 4, kv)
		}
		b = appendCount(b, 5, l.DroppedAttributeCount)
		b = protowire.AppendTag(b, 6, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, flags(l.SpanContext.TraceFlags(), l.SpanContext))
		end(&b, at)
	}
	b = appendCount(b, 14, s.DroppedLinks())
	{ // always there, if empty, as the OTLP exporter writes it
		st := s.Status()
		at := begin(&b, 15)
		b = appendString(b, 2, st.Description)
		var c uint64 // Status.StatusCode: UNSET 0, OK 1, ERROR 2
		switch st.Code {
		case codes.Ok:
			c = 1
		case codes.Error:
			c = 2
		}
		if c != 0 {
			b = protowire.AppendTag(b, 3, protowire.VarintType)
			b = protowire.AppendVarint(b, c)
		}
		end(&b, at)
	}
	b = protowire.AppendTag(b, 16, protowire.Fixed32Type)
	return protowire.AppendFixed32(b, flags(sc.TraceFlags(), parent))
}

func flags(tf trace.TraceFlags, parent trace.SpanContext) uint32 {
	f := uint32(tf) | FlagHasIsRemote
	if parent.IsRemote() {
		f |= FlagIsRemote
	}
	return f
}

func spanKind(k trace.SpanKind) uint64 {
	switch k {
	case trace.SpanKindInternal:
		return 1
	case trace.SpanKindServer:
		return 2
	case trace.SpanKindClient:
		return 3
	case trace.SpanKindProducer:
		return 4
	case trace.SpanKindConsumer:
		return 5
	}
	return 0
}

func unixNano(n int64) uint64 { return uint64(max(0, n)) }

func appendCount(b []byte, num protowire.Number, n int) []byte {
	if n <= 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(min(int64(n), math.MaxUint32)))
}

// MaxString bounds a string as written, in bytes: an attribute value a request
// filled (a path, a header) or an error's message stays within what a plugin's
// span may carry (host/tracing's intake).
const MaxString = 4096

func appendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	return appendText(b, num, s)
}

// appendText appends s as field num, even empty, made valid UTF-8 (an invalid
// byte becomes U+FFFD) and cut to MaxString on a character boundary.
func appendText(b []byte, num protowire.Number, s string) []byte {
	if len(s) <= MaxString && utf8.ValidString(s) {
		b = protowire.AppendTag(b, num, protowire.BytesType)
		return protowire.AppendString(b, s)
	}
	at := begin(&b, num)
	n := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		c := s[i : i+size]
		if r == utf8.RuneError && size == 1 {
			c = "\uFFFD"
		}
		if n+len(c) > MaxString {
			break
		}
		b = append(b, c...)
		n += len(c)
		i += size
	}
	end(&b, at)
	return b
}

func appendAttrSet(b []byte, num protowire.Number, set attribute.Set) []byte {
	for it := set.Iter(); it.Next(); {
		b = appendKeyValue(b, num, it.Attribute())
	}
	return b
}

// appendKeyValue appends kv as a KeyValue message in field num.
func appendKeyValue(b []byte, num protowire.Number, kv attribute.KeyValue) []byte {
	at := begin(&b, num)
	b = appendString(b, 1, string(kv.Key))
	v := begin(&b, 2)
	b = appendValue(b, kv.Value)
	end(&b, v)
	end(&b, at)
	return b
}

// appendValue appends the content of an AnyValue.
func appendValue(b []byte, v attribute.Value) []byte {
	switch v.Type() {
	case attribute.STRING:
		return appendText(b, 1, v.AsString())
	case attribute.BOOL:
		b = protowire.AppendTag(b, 2, protowire.VarintType)
		return protowire.AppendVarint(b, protowire.EncodeBool(v.AsBool()))
	case attribute.INT64:
		b = protowire.AppendTag(b, 3, protowire.VarintType)
		return protowire.AppendVarint(b, uint64(v.AsInt64()))
	case attribute.FLOAT64:
		b = protowire.AppendTag(b, 4, protowire.Fixed64Type)
		return protowire.AppendFixed64(b, math.Float64bits(v.AsFloat64()))
	case attribute.BYTESLICE:
		b = protowire.AppendTag(b, 7, protowire.BytesType)
		return protowire.AppendBytes(b, v.AsByteSlice())
	case attribute.BOOLSLICE:
		return appendArray(b, v.AsBoolSlice(), attribute.BoolValue)
	case attribute.INT64SLICE:
		return appendArray(b, v.AsInt64Slice(), attribute.Int64Value)
	case attribute.FLOAT64SLICE:
		return appendArray(b, v.AsFloat64Slice(), attribute.Float64Value)
	case attribute.STRINGSLICE:
		return appendArray(b, v.AsStringSlice(), attribute.StringValue)
	case attribute.SLICE:
		return appendArray(b, v.AsSlice(), func(x attribute.Value) attribute.Value { return x })
	case attribute.MAP:
		at := begin(&b, 6) // AnyValue.kvlist_value
		for _, kv := range v.AsMap() {
			b = appendKeyValue(b, 1, kv)
		}
		end(&b, at)
		return b
	case attribute.EMPTY:
		return b
	}
	return appendText(b, 1, "INVALID") // as the OTLP exporter does
}

// appendArray appends an AnyValue.array_value of xs.
func appendArray[T any](b []byte, xs []T, value func(T) attribute.Value) []byte {
	at := begin(&b, 5)
	for _, x := range xs {
		v := begin(&b, 1)
		b = appendValue(b, value(x))
		end(&b, v)
	}
	end(&b, at)
	return b
}

// Begin appends the tag of a length-delimited field num and returns where its
// content starts; End then writes the length in front of the content. The
// length is not known beforehand: one byte is set aside, and the content moved
// up in the rare case its length needs more.
func Begin(b *[]byte, num protowire.Number) int { return begin(b, num) }

// End closes the field Begin opened at start.
func End(b *[]byte, start int) { end(b, start) }

func begin(b *[]byte, num protowire.Number) int {
	*b = protowire.AppendTag(*b, num, protowire.BytesType)
	*b = append(*b, 0)
	return len(*b)
}

func end(b *[]byte, start int) {
	n := len(*b) - start
	if n < 0x80 {
		(*b)[start-1] = byte(n)
		return
	}
	extra := protowire.SizeVarint(uint64(n)) - 1
	for range extra {
		*b = append(*b, 0)
	}
	copy((*b)[start+extra:], (*b)[start:start+n])
	protowire.AppendVarint((*b)[start-1:start-1], uint64(n))
}
