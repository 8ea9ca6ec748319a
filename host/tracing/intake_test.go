package tracing

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.opentelemetry.io/otel/trace"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// intake is a plugin's intake whose passed-on batches can be read back.
func intake(t *testing.T) (*PluginSpans, chan pluginBatch, trace.TraceID) {
	t.Helper()
	tr := &Tracing{log: hclog.NewNullLogger(), forward: make(chan pluginBatch, 8)}
	p := tr.Plugin("demo")
	tid := trace.TraceID{1, 2, 3, 4}
	p.Expect(tid)
	return p, tr.forward, tid
}

func goodSpan(tid trace.TraceID, name string) *tracepb.Span {
	now := uint64(time.Now().UnixNano())
	return &tracepb.Span{TraceId: tid[:], SpanId: []byte{9, 9, 9, 9, 9, 9, 9, 9}, Name: name,
		StartTimeUnixNano: now, EndTimeUnixNano: now + 10,
		Attributes: []*commonpb.KeyValue{{Key: "k", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: 3}}}}}
}

func marshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// request is an export request of spans (each already marshalled) under a
// resource and scope that claim to be the host's.
func request(spans ...[]byte) []byte {
	res, _ := proto.Marshal(&resourcepb.Resource{Attributes: []*commonpb.KeyValue{
		{Key: "service.name", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "idplug"}}}}})
	scope, _ := proto.Marshal(&commonpb.InstrumentationScope{Name: "lib", Version: "1",
		Attributes: []*commonpb.KeyValue{{Key: "claim", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "x"}}}}})
	var ss []byte
	ss = protowire.AppendTag(ss, 1, protowire.BytesType)
	ss = protowire.AppendBytes(ss, scope)
	for _, s := range spans {
		ss = protowire.AppendTag(ss, 2, protowire.BytesType)
		ss = protowire.AppendBytes(ss, s)
	}
	var rs []byte
	rs = protowire.AppendTag(rs, 1, protowire.BytesType)
	rs = protowire.AppendBytes(rs, res)
	rs = protowire.AppendTag(rs, 2, protowire.BytesType)
	rs = protowire.AppendBytes(rs, ss)
	var req []byte
	req = protowire.AppendTag(req, 1, protowire.BytesType)
	return protowire.AppendBytes(req, rs)
}

// passedOn decodes what the intake queued for export.
func passedOn(t *testing.T, q chan pluginBatch) []*tracepb.ResourceSpans {
	t.Helper()
	var out []*tracepb.ResourceSpans
	for len(q) > 0 {
		var rs tracepb.ResourceSpans
		if err := proto.Unmarshal((<-q).out(), &rs); err != nil {
			t.Fatalf("the intake passed on bytes that are not a ResourceSpans: %v", err)
		}
		out = append(out, &rs)
	}
	return out
}

// TestIntakeNamesThePluginAndKeepsOnlyWhatItChecked: a good span goes on as
// its bytes, under the plugin's name (not the host's it claims), without its
// scope's attributes or a field the host does not know.
func TestIntakeNamesThePluginAndKeepsOnlyWhatItChecked(t *testing.T) {
	p, q, tid := intake(t)
	span := marshal(t, goodSpan(tid, "ok"))
	withUnknown := protowire.AppendTag(append([]byte(nil), marshal(t, goodSpan(tid, "unknown-field"))...), 99, protowire.BytesType)
	withUnknown = protowire.AppendString(withUnknown, "smuggled")
	kept, refused, err := p.Accept(request(span, withUnknown))
	if err != nil || kept != 2 || refused != 0 {
		t.Fatalf("Accept = %d kept, %d refused, %v; want 2, 0, nil", kept, refused, err)
	}
	got := passedOn(t, q)
	if len(got) != 1 || len(got[0].ScopeSpans) != 1 || len(got[0].ScopeSpans[0].Spans) != 2 {
		t.Fatalf("passed on %v", got)
	}
	var service string
	for _, kv := range got[0].GetResource().GetAttributes() {
		if kv.Key == "service.name" {
			service = kv.GetValue().GetStringValue()
		}
	}
	if service != "idplug-connector-demo" {
		t.Errorf("service.name = %q, want the plugin's", service)
	}
	ss := got[0].ScopeSpans[0]
	if ss.Scope.GetName() != "lib" || ss.Scope.GetVersion() != "1" || len(ss.Scope.GetAttributes()) != 0 {
		t.Errorf("scope = %v; want its name and version alone", ss.Scope)
	}
	var sent tracepb.Span
	if err := proto.Unmarshal(span, &sent); err != nil || !proto.Equal(ss.Spans[0], &sent) {
		t.Errorf("span = %v, want %v as sent", ss.Spans[0], &sent)
	}
	if u := ss.Spans[1].ProtoReflect().GetUnknown(); len(u) != 0 || ss.Spans[1].Name != "unknown-field" {
		t.Errorf("the unknown field went on (%q) or the span was changed: %v", u, ss.Spans[1])
	}
}

// TestIntakeRefusesTricks: spans that could pass a check read one way and be
// read another way by the collector, or that break a bound in a nested message.
func TestIntakeRefusesTricks(t *testing.T) {
	_, _, tid := intake(t)
	foreign := trace.TraceID{7}
	// A second trace_id field: protobuf keeps the last, the foreign one.
	twoTraces := protowire.AppendTag(marshal(t, goodSpan(tid, "two-trace-ids")), 1, protowire.BytesType)
	twoTraces = protowire.AppendBytes(twoTraces, foreign[:])
	// An attribute value holding two values of its oneof.
	twoValues := goodSpan(tid, "two-values")
	twoValues.Attributes = nil
	kv := marshal(t, &commonpb.KeyValue{Key: "k", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: 1}}})
	kv = kv[:len(kv)-2] // drop the value: tag, length 2, then its two bytes
	kv = kv[:len(kv)-2]
	val := protowire.AppendVarint(protowire.AppendTag(nil, 3, protowire.VarintType), 1)
	val = protowire.AppendString(protowire.AppendTag(val, 1, protowire.BytesType), "also")
	kv = protowire.AppendBytes(protowire.AppendTag(kv, 2, protowire.BytesType), val)
	twoValuesB := protowire.AppendBytes(protowire.AppendTag(marshal(t, twoValues), 9, protowire.BytesType), kv)
	eventAttr := goodSpan(tid, "nested-list")
	eventAttr.Events = []*tracepb.Span_Event{{Name: "e", Attributes: []*commonpb.KeyValue{{Key: "l", Value: &commonpb.AnyValue{
		Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{}}}}}}}
	longStatus := goodSpan(tid, "long-status")
	longStatus.Status = &tracepb.Status{Message: strings.Repeat("s", maxValueBytes+1)}
	foreignSpan := goodSpan(foreign, "foreign")
	// A second name, valid alone: the check and the collector would each read
	// one of the two.
	twoNames := protowire.AppendString(protowire.AppendTag(marshal(t, goodSpan(tid, "first")), 5, protowire.BytesType), "second")

	for name, span := range map[string][]byte{
		"two trace ids":    twoTraces,
		"two names":        twoNames,
		"two values":       twoValuesB,
		"list in an event": marshal(t, eventAttr),
		"long status":      marshal(t, longStatus),
		"foreign trace":    marshal(t, foreignSpan),
		"name not UTF-8":   nameNotUTF8(t, tid),
		"truncated":        marshal(t, goodSpan(tid, "cut"))[:20],
	} {
		t.Run(name, func(t *testing.T) {
			p, q, _ := intake(t)
			p.Expect(tid)
			kept, refused, _ := p.Accept(request(span))
			if kept != 0 || refused != 1 || len(passedOn(t, q)) != 0 {
				t.Fatalf("kept %d, refused %d; want the span refused", kept, refused)
			}
		})
	}
}

func nameNotUTF8(t *testing.T, tid trace.TraceID) []byte {
	s := goodSpan(tid, "")
	b := marshal(t, s)
	b = protowire.AppendTag(b, 5, protowire.BytesType)
	return protowire.AppendBytes(b, []byte{'a', 0xff, 'b'})
}

func TestIntakeRefusesBrokenBatchesWhole(t *testing.T) {
	p, q, tid := intake(t)
	good := request(marshal(t, goodSpan(tid, "ok")))
	for name, batch := range map[string][]byte{
		"not protobuf":        []byte("this is not an OTLP export request \xff\xfe"),
		"cut short":           good[:len(good)-3],
		"resource spans wire": protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 5),
	} {
		if kept, _, err := p.Accept(batch); err == nil || kept != 0 {
			t.Errorf("%s: kept %d, err %v; want the batch refused", name, kept, err)
		}
	}
	if n := len(passedOn(t, q)); n != 0 {
		t.Fatalf("%d batches passed on", n)
	}
}

// TestBudgetFollowsTheCalls: without calls a plugin gets its burst and the
// rate; each traced call the host makes to it adds to the budget.
func TestBudgetFollowsTheCalls(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	clock = func() time.Time { return now }
	t.Cleanup(func() { clock = time.Now })
	p, q, tid := intake(t)
	var spans [][]byte
	for range 500 {
		spans = append(spans, marshal(t, goodSpan(tid, "s")))
	}
	batch := request(spans...)
	for i := range spanBurst / 500 {
		if kept, _, err := p.Accept(batch); kept != 500 {
			t.Fatalf("batch %d of the burst: kept %d, %v", i, kept, err)
		}
		(<-q).out()
	}
	if kept, _, err := p.Accept(batch); kept != 0 || err == nil {
		t.Fatalf("past the burst: kept %d, %v; want refused", kept, err)
	}
	now = now.Add(time.Second / 4) // 250 spans of rate
	for range (500 - 250 + spansPerCall - 1) / spansPerCall {
		p.Expect(tid)
	}
	if kept, _, err := p.Accept(batch); kept != 500 {
		t.Fatalf("after the calls: kept %d, %v; want the batch taken", kept, err)
	}
}

// The batches merged into one export stay under a collector's message limit: a
// burst of big plugin batches goes out in several requests, none lost.
func TestMergedExportsStayUnderTheCollectorsLimit(t *testing.T) {
	queue := make(chan pluginBatch, 64)
	const batch = 1_000_000
	for range 10 {
		queue <- pluginBatch{rs: make([]byte, batch)}
	}
	close(queue)
	var sent int
	next := (<-queue).out()
	for next != nil {
		batches, left := mergeWaiting(next, queue)
		size := 0
		for _, b := range batches {
			size += len(b)
		}
		if size > forwardMergeBytes || len(batches) > forwardMerge {
			t.Fatalf("one request of %d batches, %d bytes: over %d bytes or %d batches", len(batches), size, forwardMergeBytes, forwardMerge)
		}
		sent += len(batches)
		next = left
		if next == nil {
			next = (<-queue).out() // nil once the queue is closed and empty
		}
	}
	if sent != 10 {
		t.Fatalf("%d batches sent, want 10", sent)
	}
	// Small batches still go together.
	small := make(chan pluginBatch, 64)
	for range 20 {
		small <- pluginBatch{rs: make([]byte, 100)}
	}
	if batches, left := mergeWaiting((<-small).out(), small); len(batches) != forwardMerge || left != nil {
		t.Fatalf("20 small batches: %d in the first request (left %d bytes), want %d", len(batches), len(left), forwardMerge)
	}
}

// TestIntakeStopsAtTheSpanLimit: a batch of exactly the limit passes; one span
// more and the whole batch is refused, and a batch of a hundred thousand empty
// spans is refused at the first span past the limit, not checked through.
func TestIntakeStopsAtTheSpanLimit(t *testing.T) {
	p, q, tid := intake(t)
	for range 2 * maxBatchSpans / spansPerCall {
		p.Expect(tid)
	}
	span := marshal(t, goodSpan(tid, "s"))
	spans := make([][]byte, maxBatchSpans)
	for i := range spans {
		spans[i] = span
	}
	if kept, _, err := p.Accept(request(spans...)); kept != maxBatchSpans || err != nil {
		t.Fatalf("a batch at the limit: kept %d, %v", kept, err)
	}
	(<-q).out()
	if kept, refused, err := p.Accept(request(append(spans, span)...)); kept != 0 || refused != maxBatchSpans+1 || err == nil {
		t.Fatalf("one span over: kept %d, refused %d, %v; want all refused", kept, refused, err)
	}
	empty := make([][]byte, 100_000)
	for i := range empty {
		empty[i] = []byte{}
	}
	kept, refused, err := p.Accept(request(empty...))
	if kept != 0 || refused != maxBatchSpans+1 || err == nil || !strings.Contains(err.Error(), "more than 512 spans") {
		t.Fatalf("100,000 empty spans: kept %d, refused %d, %v; want the walk to stop at span %d", kept, refused, err, maxBatchSpans+1)
	}
	if n := len(passedOn(t, q)); n != 0 {
		t.Fatalf("%d batches passed on", n)
	}
}

// TestARefusedBulkIsNotHeld: when most of a batch is refused, what waits for
// the exporter holds what passed, not the room of the whole batch.
func TestARefusedBulkIsNotHeld(t *testing.T) {
	p, q, tid := intake(t)
	foreign := goodSpan(trace.TraceID{7}, "foreign")
	foreign.Attributes = append(foreign.Attributes, &commonpb.KeyValue{Key: "pad",
		Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: strings.Repeat("x", 2000)}}})
	spans := [][]byte{marshal(t, goodSpan(tid, "ok"))}
	for range 200 {
		spans = append(spans, marshal(t, foreign))
	}
	batch := request(spans...)
	if kept, refused, _ := p.Accept(batch); kept != 1 || refused != 200 {
		t.Fatalf("kept %d, refused %d; want 1 and 200", kept, refused)
	}
	if queued := (<-q).out(); cap(queued) > 2*len(queued) || cap(queued) >= len(batch) {
		t.Fatalf("the queued batch holds %d bytes of room for %d bytes (the batch was %d)", cap(queued), len(queued), len(batch))
	}
}

// TestAnExpiredTraceIsRefused: a plugin may write into a trace the host sent it
// for 10 minutes after the last call in it, not after.
func TestAnExpiredTraceIsRefused(t *testing.T) {
	now := time.Unix(2_000_000, 0)
	clock = func() time.Time { return now }
	t.Cleanup(func() { clock = time.Now })
	p, q, tid := intake(t) // the trace is expected from now on
	batch := request(marshal(t, goodSpan(tid, "late")))
	now = now.Add(expectedTTL - time.Second)
	if kept, _, err := p.Accept(batch); kept != 1 {
		t.Fatalf("within the TTL: kept %d, %v", kept, err)
	}
	(<-q).out()
	now = now.Add(2 * time.Second)
	if kept, refused, _ := p.Accept(batch); kept != 0 || refused != 1 || len(passedOn(t, q)) != 0 {
		t.Fatalf("past the TTL: kept %d, refused %d; want the span refused", kept, refused)
	}
	p.Expect(tid) // a new call in the trace opens it again
	if kept, _, err := p.Accept(batch); kept != 1 {
		t.Fatalf("after a new call: kept %d, %v", kept, err)
	}
}

// fatSpan is a good span with n string attributes of size bytes each, every one
// within the bounds of an attribute.
func fatSpan(tid trace.TraceID, name string, n, size int) *tracepb.Span {
	s := goodSpan(tid, name)
	s.Attributes = nil
	for i := range n {
		s.Attributes = append(s.Attributes, &commonpb.KeyValue{Key: fmt.Sprint("a", i),
			Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: strings.Repeat("x", size)}}})
	}
	return s
}

// TestIntakeRefusesASpanOverItsSize: attributes each within their bounds, in
// the span or in its events, made spans of a megabyte; a span over 64 KiB in
// all is refused alone, and counted.
func TestIntakeRefusesASpanOverItsSize(t *testing.T) {
	p, q, tid := intake(t)
	inEvents := goodSpan(tid, "in-events")
	for range 2 {
		inEvents.Events = append(inEvents.Events, &tracepb.Span_Event{Name: "e", TimeUnixNano: inEvents.StartTimeUnixNano,
			Attributes: fatSpan(tid, "", maxAttributes, 600).Attributes})
	}
	under := fatSpan(tid, "under", maxAttributes, 900)
	batch := request(marshal(t, fatSpan(tid, "attributes", maxAttributes, maxValueBytes)), marshal(t, inEvents), marshal(t, under))
	kept, refused, err := p.Accept(batch)
	if kept != 1 || refused != 2 || err != nil {
		t.Fatalf("kept %d, refused %d, %v; want the two spans over %d bytes refused", kept, refused, err, maxSpanBytes)
	}
	if got := passedOn(t, q); got[0].ScopeSpans[0].Spans[0].Name != "under" {
		t.Fatalf("passed on %q", got[0].ScopeSpans[0].Spans[0].Name)
	}
	if d := p.t.Dropped(); d != 2 {
		t.Fatalf("%d spans counted as dropped, want 2", d)
	}
}

// TestBudgetCountsBytes: within the span budget, a plugin sending spans near
// the size limit gets its burst of bytes and the rate, not a gigabyte in
// seconds (one such plugin pushed 924 MiB in 3 s).
func TestBudgetCountsBytes(t *testing.T) {
	now := time.Unix(3_000_000, 0)
	clock = func() time.Time { return now }
	t.Cleanup(func() { clock = time.Now })
	p, q, tid := intake(t)
	batch := request(marshal(t, fatSpan(tid, "fat", 15, maxValueBytes)))
	send := func() (spans, bytes int, err error) {
		for {
			kept, _, err := p.Accept(batch)
			if kept == 0 {
				return spans, bytes, err
			}
			(<-q).out()
			spans, bytes = spans+kept, bytes+len(batch)
		}
	}
	spans, bytes, err := send()
	if budget := byteBurst; bytes > budget || bytes <= budget-len(batch) || !errors.Is(err, errByteBudget) {
		t.Fatalf("took %d spans, %d bytes, then %v; want the byte budget, %d, spent", spans, bytes, err, budget)
	}
	now = now.Add(time.Second)
	_, more, _ := send()
	if budget := byteBurst + bytesPerSecond; bytes+more > budget || bytes+more <= budget-len(batch) {
		t.Fatalf("a second later: took %d bytes more; want the rate, %d", more, bytesPerSecond)
	}
}

// TestAPluginTakesAtMostItsShareOfTheQueue: a plugin whose batches the
// exporter has not taken yet holds half the queue at most; another plugin's
// batches still get in.
func TestAPluginTakesAtMostItsShareOfTheQueue(t *testing.T) {
	tr := &Tracing{log: hclog.NewNullLogger(), forward: make(chan pluginBatch, forwardQueue)}
	fat, honest := tr.Plugin("fat"), tr.Plugin("honest")
	tid := trace.TraceID{5, 5}
	fat.Expect(tid)
	honest.Expect(tid)
	batch := request(marshal(t, goodSpan(tid, "s")))
	queued := 0
	for range forwardQueue {
		if kept, _, err := fat.Accept(batch); kept == 1 {
			queued++
		} else if !errors.Is(err, errQueueShare) {
			t.Fatalf("refused for %v", err)
		}
	}
	if queued != forwardShare {
		t.Fatalf("one plugin queued %d batches, want %d of %d", queued, forwardShare, forwardQueue)
	}
	if kept, _, err := honest.Accept(batch); kept != 1 {
		t.Fatalf("the other plugin's batch: %v", err)
	}
	(<-tr.forward).out() // the exporter takes one of the first plugin's
	if kept, _, err := fat.Accept(batch); kept != 1 {
		t.Fatalf("after the exporter took a batch: %v", err)
	}
}

// TestATraceStateOfW3CsLengthPasses: W3C asks that 512 characters of a trace
// state be propagated; the host propagates that much (boundTraceState), and a
// plugin's spans may carry it, in the span and in a link.
func TestATraceStateOfW3CsLengthPasses(t *testing.T) {
	state := func(n int) string { return "k=" + strings.Repeat("v", 250) + ",l=" + strings.Repeat("w", n-255) }
	for _, c := range []struct {
		state string
		kept  int
	}{{state(maxTraceStateBytes), 1}, {state(maxTraceStateBytes + 1), 0}} {
		p, q, tid := intake(t)
		span := goodSpan(tid, "s")
		span.TraceState = c.state
		linked := goodSpan(tid, "linked")
		linked.Links = []*tracepb.Span_Link{{TraceId: tid[:], SpanId: span.SpanId, TraceState: c.state}}
		for _, s := range []*tracepb.Span{span, linked} {
			if kept, _, err := p.Accept(request(marshal(t, s))); kept != c.kept {
				t.Errorf("%s, a trace state of %d bytes: kept %d, %v; want %d", s.Name, len(c.state), kept, err, c.kept)
			}
		}
		passedOn(t, q)
	}
}
