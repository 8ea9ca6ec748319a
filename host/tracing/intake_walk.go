package tracing

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/idplug/idplug/internal/otlpwire"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/encoding/protowire"
)

// walk reads one batch. A batch that breaks the wire format fails whole; a span
// that breaks a bound is refused alone.
type walk struct {
	p        *PluginSpans
	now      time.Time
	kept     int
	refused  int
	firstErr error
	// the last trace looked up in expected, and its answer: a batch's spans
	// mostly share a few traces
	lastTrace trace.TraceID
	lastOK    bool
}

var errWire = errors.New("malformed protobuf")

// errTooManySpans stops the walk at the first span past maxBatchSpans: a batch
// of half a million empty spans is refused before it costs their checks.
var errTooManySpans = errors.New("too many spans")

// request: ExportTraceServiceRequest{resource_spans = 1}.
func (w *walk) request(out, b []byte) ([]byte, error) {
	return w.each(out, b, 1, w.resourceSpans)
}

// resourceSpans: ResourceSpans{resource = 1, scope_spans = 2, schema_url = 3};
// only the scope spans are read.
func (w *walk) resourceSpans(out, b []byte) ([]byte, error) {
	return w.each(out, b, 2, w.scopeSpans)
}

// each walks the message b and hands every field num, a nested message, to
// read, in order; other fields are skipped.
func (w *walk) each(out, b []byte, num protowire.Number, read func(out, v []byte) ([]byte, error)) ([]byte, error) {
	for len(b) > 0 {
		n, typ, v, size := field(b)
		if size < 0 {
			return out, errWire
		}
		b = b[size:]
		if n != num {
			continue
		}
		if typ != protowire.BytesType {
			return out, errWire
		}
		var err error
		if out, err = read(out, v); err != nil {
			return out, err
		}
	}
	return out, nil
}

// scopeSpans: ScopeSpans{scope = 1, spans = 2, schema_url = 3}. The scope may
// come after the spans: it is read first.
func (w *walk) scopeSpans(out, b []byte) ([]byte, error) {
	var name, version []byte
	for rest := b; len(rest) > 0; {
		num, typ, v, n := field(rest)
		if n < 0 {
			return out, errWire
		}
		rest = rest[n:]
		if num != 1 {
			continue
		}
		if typ != protowire.BytesType {
			return out, errWire
		}
		for len(v) > 0 { // InstrumentationScope{name = 1, version = 2, ...}
			snum, styp, sv, sn := field(v)
			if sn < 0 {
				return out, errWire
			}
			v = v[sn:]
			if (snum == 1 || snum == 2) && styp != protowire.BytesType {
				return out, errWire
			}
			switch snum {
			case 1:
				name = sv
			case 2:
				version = sv
			}
		}
	}
	scopeErr := error(nil)
	if len(name) > maxNameBytes || len(version) > maxNameBytes || !utf8.Valid(name) || !utf8.Valid(version) {
		scopeErr = errors.New("an instrumentation scope name is too long or not UTF-8")
	}
	mark := len(out)
	at := otlpwire.Begin(&out, 2) // ResourceSpans.scope_spans
	if len(name) > 0 || len(version) > 0 {
		sc := otlpwire.Begin(&out, 1)
		out = appendBytesField(out, 1, name)
		out = appendBytesField(out, 2, version)
		otlpwire.End(&out, sc)
	}
	spans := 0
	for len(b) > 0 {
		num, typ, v, n := field(b)
		if n < 0 {
			return out[:mark], errWire
		}
		b = b[n:]
		if num != 2 {
			continue
		}
		if typ != protowire.BytesType {
			return out[:mark], errWire
		}
		if w.kept+w.refused == maxBatchSpans {
			w.refused++
			return out[:mark], errTooManySpans
		}
		if scopeErr != nil {
			w.refuse(scopeErr)
			continue
		}
		unknown, err := w.span(v)
		if err != nil {
			w.refuse(err)
			continue
		}
		sp := otlpwire.Begin(&out, 2)
		if unknown {
			out = knownSpanFields(out, v)
		} else {
			out = append(out, v...)
		}
		otlpwire.End(&out, sp)
		spans++
		w.kept++
	}
	if spans == 0 {
		return out[:mark], nil
	}
	otlpwire.End(&out, at)
	return out, nil
}

func (w *walk) refuse(err error) {
	w.refused++
	if w.firstErr == nil {
		w.firstErr = err
	}
}

func appendBytesField(b []byte, num protowire.Number, v []byte) []byte {
	if len(v) == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

// field reads one field: its number, wire type, value (for a length-delimited
// one, its content) and length in b; n < 0 when b is not protobuf.
func field(b []byte) (protowire.Number, protowire.Type, []byte, int) {
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 {
		return 0, 0, nil, n
	}
	if typ == protowire.BytesType {
		v, m := protowire.ConsumeBytes(b[n:])
		if m < 0 {
			return 0, 0, nil, m
		}
		return num, typ, v, n + m
	}
	m := protowire.ConsumeFieldValue(num, typ, b[n:])
	if m < 0 {
		return 0, 0, nil, m
	}
	return num, typ, b[n : n+m], n + m
}

// Span fields (trace.proto), by number, with the wire type each must have.
var spanFieldTypes = [...]protowire.Type{
	1: protowire.BytesType, 2: protowire.BytesType, 3: protowire.BytesType, 4: protowire.BytesType,
	5: protowire.BytesType, 6: protowire.VarintType, 7: protowire.Fixed64Type, 8: protowire.Fixed64Type,
	9: protowire.BytesType, 10: protowire.VarintType, 11: protowire.BytesType, 12: protowire.VarintType,
	13: protowire.BytesType, 14: protowire.VarintType, 15: protowire.BytesType, 16: protowire.Fixed32Type,
}

func knownSpan(num protowire.Number) bool { return num >= 1 && int(num) < len(spanFieldTypes) }

// knownSpanFields appends the fields of span b that are known here.
func knownSpanFields(out, b []byte) []byte {
	for len(b) > 0 {
		num, _, _, n := field(b)
		if knownSpan(num) {
			out = append(out, b[:n]...)
		}
		b = b[n:]
	}
	return out
}

// span checks one span: malformed, oversized, or of a trace the host never
// handed to this plugin (a plugin must not write into other traces), it is
// refused. unknown says it has fields not known here, which are not passed on.
func (w *walk) span(b []byte) (unknown bool, err error) {
	if len(b) > maxSpanBytes {
		return false, fmt.Errorf("a span of %d bytes is over the limit of %d", len(b), maxSpanBytes)
	}
	var (
		seen                uint32
		traceID, spanID     []byte
		parent, name        []byte
		start, end          uint64
		attrs, events, link int
	)
	for len(b) > 0 {
		num, typ, v, n := field(b)
		if n < 0 {
			return false, errors.New("a span is not protobuf")
		}
		b = b[n:]
		if !knownSpan(num) {
			unknown = true
			continue
		}
		if typ != spanFieldTypes[num] {
			return false, fmt.Errorf("span field %d has the wrong wire type", num)
		}
		repeated := num == 9 || num == 11 || num == 13
		if !repeated {
			if seen&(1<<num) != 0 {
				return false, fmt.Errorf("span field %d is repeated", num)
			}
			seen |= 1 << num
		}
		switch num {
		case 1:
			traceID = v
		case 2:
			spanID = v
		case 3:
			if len(v) > maxTraceStateBytes || !utf8.Valid(v) {
				return false, errors.New("a span's trace state is too long")
			}
		case 4:
			parent = v
		case 5:
			name = v
		case 7:
			start, _ = protowire.ConsumeFixed64(v)
		case 8:
			end, _ = protowire.ConsumeFixed64(v)
		case 9:
			if attrs++; attrs > maxAttributes {
				return false, fmt.Errorf("a span has more than %d attributes", maxAttributes)
			}
			if err := checkKeyValue(v); err != nil {
				return false, err
			}
		case 11:
			if events++; events > maxEvents {
				return false, errors.New("a span has too many events or links")
			}
			if err := checkEvent(v); err != nil {
				return false, err
			}
		case 13:
			if link++; link > maxLinks {
				return false, errors.New("a span has too many events or links")
			}
			if err := checkLink(v); err != nil {
				return false, err
			}
		case 15:
			if err := checkStatus(v); err != nil {
				return false, err
			}
		}
	}
	switch {
	case len(traceID) != len(trace.TraceID{}) || len(spanID) != len(trace.SpanID{}):
		return false, errors.New("a span has a malformed trace or span id")
	case len(parent) != 0 && len(parent) != len(trace.SpanID{}):
		return false, errors.New("a span has a malformed parent id")
	case trace.SpanID(spanID) == trace.SpanID{}:
		return false, errors.New("a span has a zero span id")
	case len(name) == 0 || len(name) > maxNameBytes || !utf8.Valid(name):
		return false, errors.New("a span name is empty, too long or not UTF-8")
	case start == 0 || end < start || time.Duration(end-start) > maxSpanDuration:
		return false, errors.New("a span's times are out of order or out of bounds")
	}
	if !w.expected(trace.TraceID(traceID)) {
		return false, errors.New("a span belongs to a trace the host did not send to this plugin")
	}
	return unknown, nil
}

// expected reports whether the host sent trace id to the plugin, lately.
func (w *walk) expected(id trace.TraceID) bool {
	if id == w.lastTrace && id.IsValid() {
		return w.lastOK
	}
	w.p.mu.Lock()
	at, ok := w.p.expected[id]
	w.p.mu.Unlock()
	w.lastTrace, w.lastOK = id, ok && w.now.Sub(at) <= expectedTTL
	return w.lastOK
}

// checkKeyValue allows a KeyValue of a non-empty key and a scalar value, and
// nothing else in it (it is passed on as its bytes).
func checkKeyValue(b []byte) error {
	var key, value []byte
	var seen uint8
	for len(b) > 0 {
		num, typ, v, n := field(b)
		if n < 0 || (num != 1 && num != 2) || typ != protowire.BytesType || seen&(1<<num) != 0 {
			return errors.New("a span attribute is malformed")
		}
		seen |= 1 << num
		b = b[n:]
		if num == 1 {
			key = v
		} else {
			value = v
		}
	}
	if len(key) == 0 || len(key) > maxNameBytes || !utf8.Valid(key) {
		return errors.New("a span attribute key is empty, too long or not UTF-8")
	}
	// AnyValue: exactly one of string_value 1, bool_value 2, int_value 3, double_value 4.
	num, typ, v, n := field(value)
	if n < 0 || n != len(value) {
		return fmt.Errorf("span attribute %q is not a string, number or bool", key)
	}
	switch {
	case num == 1 && typ == protowire.BytesType:
		if len(v) > maxValueBytes {
			return fmt.Errorf("span attribute %q is longer than %d bytes", key, maxValueBytes)
		}
		if !utf8.Valid(v) {
			return fmt.Errorf("span attribute %q is not UTF-8", key)
		}
	case (num == 2 || num == 3) && typ == protowire.VarintType, num == 4 && typ == protowire.Fixed64Type:
	default:
		return fmt.Errorf("span attribute %q is not a string, number or bool", key)
	}
	return nil
}

// checkEvent: Event{time_unix_nano = 1, name = 2, attributes = 3, dropped_attributes_count = 4}.
func checkEvent(b []byte) error {
	attrs := 0
	for len(b) > 0 {
		num, typ, v, n := field(b)
		if n < 0 {
			return errors.New("a span event is malformed")
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.Fixed64Type, num == 4 && typ == protowire.VarintType:
		case num == 2 && typ == protowire.BytesType:
			if len(v) > maxNameBytes || !utf8.Valid(v) {
				return errors.New("a span event name is too long or not UTF-8")
			}
		case num == 3 && typ == protowire.BytesType:
			if attrs++; attrs > maxAttributes {
				return fmt.Errorf("a span event has more than %d attributes", maxAttributes)
			}
			if err := checkKeyValue(v); err != nil {
				return err
			}
		default:
			return errors.New("a span event is malformed")
		}
	}
	return nil
}

// checkLink: Link{trace_id = 1, span_id = 2, trace_state = 3, attributes = 4,
// dropped_attributes_count = 5, flags = 6}.
func checkLink(b []byte) error {
	attrs := 0
	for len(b) > 0 {
		num, typ, v, n := field(b)
		if n < 0 {
			return errors.New("a span link is malformed")
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.BytesType && len(v) == len(trace.TraceID{}),
			num == 2 && typ == protowire.BytesType && len(v) == len(trace.SpanID{}),
			num == 5 && typ == protowire.VarintType, num == 6 && typ == protowire.Fixed32Type:
		case num == 3 && typ == protowire.BytesType:
			if len(v) > maxTraceStateBytes || !utf8.Valid(v) {
				return errors.New("a span link's trace state is too long or not UTF-8")
			}
		case num == 4 && typ == protowire.BytesType:
			if attrs++; attrs > maxAttributes {
				return fmt.Errorf("a span link has more than %d attributes", maxAttributes)
			}
			if err := checkKeyValue(v); err != nil {
				return err
			}
		default:
			return errors.New("a span link is malformed")
		}
	}
	return nil
}

// checkStatus: Status{message = 2, code = 3}.
func checkStatus(b []byte) error {
	for len(b) > 0 {
		num, typ, v, n := field(b)
		if n < 0 {
			return errors.New("a span status is malformed")
		}
		b = b[n:]
		switch {
		case num == 3 && typ == protowire.VarintType:
		case num == 2 && typ == protowire.BytesType:
			if len(v) > maxValueBytes || !utf8.Valid(v) {
				return errors.New("a span's status message is too long or not UTF-8")
			}
		default:
			return errors.New("a span status is malformed")
		}
	}
	return nil
}
