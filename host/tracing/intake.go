package tracing

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"
	collectorpb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// What a plugin may hand over. A plugin is third-party code: whatever it sends is
// checked against these before anything of it leaves the host, and a batch over
// them is refused whole. The rate is per plugin.
const (
	MaxBatchBytes   = 1 << 20
	maxBatchSpans   = 512
	maxNameBytes    = 256
	maxAttributes   = 64
	maxValueBytes   = 4096
	maxEvents       = 32
	maxLinks        = 8
	maxSpanDuration = time.Hour
	spansPerSecond  = 1000
	spanBurst       = 4000
	// A plugin's spans must belong to a trace the host handed to it: the last
	// expectedTraces trace ids sent to the plugin, for expectedTTL.
	expectedTraces = 4096
	expectedTTL    = 10 * time.Minute
)

// PluginSpans takes one plugin's spans in: it knows which traces the host sent
// the plugin, refuses spans of any other trace, and bounds how many it takes.
type PluginSpans struct {
	t        *Tracing
	name     string
	resource *resourcepb.Resource

	mu       sync.Mutex
	expected map[trace.TraceID]time.Time
	ring     []trace.TraceID // insertion order of expected, oldest first
	tokens   float64
	refilled time.Time
	warned   time.Time
}

// Plugin returns the intake of the plugin file named name (without its prefix);
// nil when tracing is off.
func (t *Tracing) Plugin(name string) *PluginSpans {
	if t == nil {
		return nil
	}
	// The plugin says nothing about who it is: the host names it.
	res := &resourcepb.Resource{Attributes: []*commonpb.KeyValue{
		{Key: "service.name", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "idplug-connector-" + name}}},
		{Key: "idplug.plugin", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: name}}},
	}}
	return &PluginSpans{t: t, name: name, resource: res, expected: map[trace.TraceID]time.Time{},
		tokens: spanBurst, refilled: time.Now()}
}

// Expect records that a call of trace id went to the plugin.
func (p *PluginSpans) Expect(id trace.TraceID) {
	if p == nil || !id.IsValid() {
		return
	}
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.expected[id]; !ok {
		if len(p.ring) >= expectedTraces {
			delete(p.expected, p.ring[0])
			p.ring = p.ring[1:]
		}
		p.ring = append(p.ring, id)
	}
	p.expected[id] = now
}

// Accept checks one batch the plugin sent (a serialized OTLP export request) and
// queues what passes for export. It returns how many spans went on and how many
// were refused, and why a batch was refused whole.
func (p *PluginSpans) Accept(batch []byte) (kept, refused int, err error) {
	if p == nil {
		return 0, 0, nil
	}
	if len(batch) > MaxBatchBytes {
		return 0, 0, p.refuse(0, fmt.Errorf("a span batch of %d bytes is over the limit of %d", len(batch), MaxBatchBytes))
	}
	var req collectorpb.ExportTraceServiceRequest
	if err := proto.Unmarshal(batch, &req); err != nil {
		return 0, 0, p.refuse(0, fmt.Errorf("a span batch is not an OTLP export request: %w", err))
	}
	total := 0
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			total += len(ss.GetSpans())
		}
	}
	if total > maxBatchSpans {
		return 0, total, p.refuse(total, fmt.Errorf("a span batch of %d spans is over the limit of %d", total, maxBatchSpans))
	}
	if !p.take(total) {
		return 0, total, p.refuse(total, fmt.Errorf("more than %d spans a second", spansPerSecond))
	}
	now := time.Now()
	out := &tracepb.ResourceSpans{Resource: p.resource}
	var firstErr error
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			scope := ss.GetScope()
			if scope != nil && (len(scope.GetName()) > maxNameBytes || len(scope.GetVersion()) > maxNameBytes) {
				refused += len(ss.GetSpans())
				firstErr = firstOf(firstErr, errors.New("an instrumentation scope name is too long"))
				continue
			}
			keep := &tracepb.ScopeSpans{Scope: &commonpb.InstrumentationScope{Name: scope.GetName(), Version: scope.GetVersion()}}
			for _, s := range ss.GetSpans() {
				if err := p.check(s, now); err != nil {
					refused++
					firstErr = firstOf(firstErr, err)
					continue
				}
				keep.Spans = append(keep.Spans, s)
			}
			if len(keep.Spans) > 0 {
				out.ScopeSpans = append(out.ScopeSpans, keep)
				kept += len(keep.Spans)
			}
		}
	}
	if refused > 0 {
		p.refuse(refused, firstErr)
	}
	if kept > 0 && !p.t.enqueue([]*tracepb.ResourceSpans{out}, kept) {
		return 0, kept + refused, p.refuse(0, errors.New("the exporter is behind; spans dropped"))
	}
	return kept, refused, nil
}

func firstOf(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// check refuses a span that is malformed, oversized or of a trace that the host
// never handed to this plugin (a plugin must not write into other traces).
func (p *PluginSpans) check(s *tracepb.Span, now time.Time) error {
	var tid trace.TraceID
	var sid trace.SpanID
	switch {
	case len(s.GetTraceId()) != len(tid) || len(s.GetSpanId()) != len(sid):
		return errors.New("a span has a malformed trace or span id")
	case len(s.GetParentSpanId()) != 0 && len(s.GetParentSpanId()) != len(sid):
		return errors.New("a span has a malformed parent id")
	case bytes.Equal(s.GetSpanId(), sid[:]):
		return errors.New("a span has a zero span id")
	case s.GetName() == "" || len(s.GetName()) > maxNameBytes:
		return errors.New("a span name is empty or too long")
	case len(s.GetTraceState()) > maxNameBytes:
		return errors.New("a span's trace state is too long")
	case s.GetStartTimeUnixNano() == 0 || s.GetEndTimeUnixNano() < s.GetStartTimeUnixNano() ||
		time.Duration(s.GetEndTimeUnixNano()-s.GetStartTimeUnixNano()) > maxSpanDuration:
		return errors.New("a span's times are out of order or out of bounds")
	case len(s.GetEvents()) > maxEvents || len(s.GetLinks()) > maxLinks:
		return errors.New("a span has too many events or links")
	case len(s.GetStatus().GetMessage()) > maxValueBytes:
		return errors.New("a span's status message is too long")
	}
	if err := checkAttributes(s.GetAttributes()); err != nil {
		return err
	}
	for _, e := range s.GetEvents() {
		if len(e.GetName()) > maxNameBytes {
			return errors.New("a span event name is too long")
		}
		if err := checkAttributes(e.GetAttributes()); err != nil {
			return err
		}
	}
	for _, l := range s.GetLinks() {
		if err := checkAttributes(l.GetAttributes()); err != nil {
			return err
		}
	}
	copy(tid[:], s.GetTraceId())
	p.mu.Lock()
	at, ok := p.expected[tid]
	p.mu.Unlock()
	if !ok || now.Sub(at) > expectedTTL {
		return errors.New("a span belongs to a trace the host did not send to this plugin")
	}
	return nil
}

// checkAttributes allows a bounded list of scalar values.
func checkAttributes(kvs []*commonpb.KeyValue) error {
	if len(kvs) > maxAttributes {
		return fmt.Errorf("a span has more than %d attributes", maxAttributes)
	}
	for _, kv := range kvs {
		if kv.GetKey() == "" || len(kv.GetKey()) > maxNameBytes {
			return errors.New("a span attribute key is empty or too long")
		}
		switch v := kv.GetValue().GetValue().(type) {
		case *commonpb.AnyValue_StringValue:
			if len(v.StringValue) > maxValueBytes {
				return fmt.Errorf("span attribute %q is longer than %d bytes", kv.GetKey(), maxValueBytes)
			}
		case *commonpb.AnyValue_BoolValue, *commonpb.AnyValue_IntValue, *commonpb.AnyValue_DoubleValue:
		default:
			return fmt.Errorf("span attribute %q is not a string, number or bool", kv.GetKey())
		}
	}
	return nil
}

// take spends n tokens of the plugin's span budget, if it has them.
func (p *PluginSpans) take(n int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	p.tokens += now.Sub(p.refilled).Seconds() * spansPerSecond
	if p.tokens > spanBurst {
		p.tokens = spanBurst
	}
	p.refilled = now
	if float64(n) > p.tokens {
		return false
	}
	p.tokens -= float64(n)
	return true
}

// refuse counts n dropped spans and logs why, at most once a minute per plugin,
// so a flood cannot flood the log too. It returns err.
func (p *PluginSpans) refuse(n int, err error) error {
	p.t.dropped.Add(int64(n))
	p.mu.Lock()
	now := time.Now()
	log := now.Sub(p.warned) > time.Minute
	if log {
		p.warned = now
	}
	p.mu.Unlock()
	if log && err != nil {
		p.t.log.Warn("dropping spans from a plugin", "plugin", p.name, "spans", n, "reason", err.Error())
	}
	return err
}
