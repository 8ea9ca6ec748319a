package tracing

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/idplug/idplug/internal/otlpwire"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	"go.opentelemetry.io/otel/trace"
)

// What a plugin may hand over. A plugin is third-party code: whatever it sends is
// checked against these before anything of it leaves the host, and a batch over
// them is refused whole. The budget is per plugin: spanBurst at most, refilled
// by spansPerSecond and by spansPerCall for each traced call the host made to
// the plugin, so that a plugin under load may send the spans of its calls and
// one without calls no more than the rate. Bytes have a budget of the same
// kind: within the span budget, spans of maxSpanBytes came to a gigabyte in
// seconds, and crowded other plugins' batches out of the export queue.
const (
	MaxBatchBytes   = 1 << 20
	maxBatchSpans   = 512
	maxSpanBytes    = 64 << 10 // a span in the wire form, its events and links included
	maxNameBytes    = 256
	maxAttributes   = 64
	maxValueBytes   = 4096
	maxEvents       = 32
	maxLinks        = 8
	maxSpanDuration = time.Hour
	spansPerSecond  = 1000
	spansPerCall    = 64
	spanBurst       = 4000
	bytesPerSecond  = 1 << 20
	bytesPerCall    = 16 << 10
	byteBurst       = 4 << 20
	// W3C asks that at least 512 characters of a trace state be propagated; the
	// host drops a caller's longer one (boundTraceState), so that what it sends a
	// plugin is what the plugin's spans may carry.
	maxTraceStateBytes = 512
	// A plugin's spans must belong to a trace the host handed to it: the last
	// expectedTraces trace ids sent to the plugin, for expectedTTL.
	expectedTraces = 4096
	expectedTTL    = 10 * time.Minute
)

// clock is time.Now, but for tests of the budget and of a trace's expiry.
var clock = time.Now

// PluginSpans takes one plugin's spans in: it knows which traces the host sent
// the plugin, refuses spans of any other trace, and bounds how many it takes.
type PluginSpans struct {
	t        *Tracing
	name     string
	resource []byte // field 1 of the ResourceSpans of every batch passed on

	mu       sync.Mutex
	expected map[trace.TraceID]time.Time
	ring     []trace.TraceID // insertion order of expected, oldest first
	tokens   float64
	bytes    float64 // tokens of the byte budget
	refilled time.Time
	warned   time.Time
	// lastSpans is how many spans the plugin's last batch read had: what a
	// batch is taken to need before it is read.
	lastSpans int

	queued atomic.Int32 // batches of the plugin in the export queue
}

// Plugin returns the intake of the plugin file named name (without its prefix);
// nil when tracing is off.
func (t *Tracing) Plugin(name string) *PluginSpans {
	if t == nil {
		return nil
	}
	// The plugin says nothing about who it is: the host names it.
	res := otlpwire.AppendResource(nil, resource.NewSchemaless(
		attribute.String("service.name", "idplug-connector-"+name), attribute.String("idplug.plugin", name)))
	return &PluginSpans{t: t, name: name, resource: res, expected: map[trace.TraceID]time.Time{},
		tokens: spanBurst, bytes: byteBurst, refilled: clock()}
}

// Expect records that a call of trace id went to the plugin.
func (p *PluginSpans) Expect(id trace.TraceID) {
	if p == nil || !id.IsValid() {
		return
	}
	now := clock()
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
	p.tokens = min(p.tokens+spansPerCall, spanBurst)
	p.bytes = min(p.bytes+bytesPerCall, byteBurst)
}

// Accept checks one batch the plugin sent (a serialized OTLP export request) and
// queues what passes for export. It returns how many spans went on and how many
// were refused, and why a batch was refused whole.
//
// The batch is read in its wire form, never decoded into messages: a span that
// passes is copied as its bytes (less any field unknown here), under the
// resource the host gives the plugin and the scope's name and version alone.
// What the plugin says of its resource, and its scopes' attributes, are
// dropped. Decoding every batch and marshalling it again cost the host more
// than its own spans (BENCHMARKS.md, "Tracing").
func (p *PluginSpans) Accept(batch []byte) (kept, refused int, err error) {
	if p == nil {
		return 0, 0, nil
	}
	if len(batch) > MaxBatchBytes {
		return 0, 0, p.refuse(0, fmt.Errorf("a span batch of %d bytes is over the limit of %d", len(batch), MaxBatchBytes))
	}
	// A batch the budgets cannot take is refused before it is read: a plugin
	// past its budget that kept sending batches of a megabyte had each read
	// and copied whole before the refusal, near a core of the host's.
	if err := p.afford(len(batch), clock()); err != nil {
		return 0, 0, p.refuse(0, err)
	}
	out := make([]byte, 0, len(p.resource)+len(batch)+64)
	out = append(out, p.resource...)
	w := walk{p: p, now: clock()}
	out, err = w.request(out, batch)
	if errors.Is(err, errTooManySpans) {
		return 0, w.kept + w.refused, p.refuse(w.kept+w.refused, fmt.Errorf("a span batch of more than %d spans", maxBatchSpans))
	}
	if err != nil {
		return 0, 0, p.refuse(0, fmt.Errorf("a span batch is not an OTLP export request: %w", err))
	}
	total := w.kept + w.refused
	p.mu.Lock()
	p.lastSpans = total
	p.mu.Unlock()
	if err := p.take(total, len(batch), w.now); err != nil {
		return 0, total, p.refuse(total, err)
	}
	if w.refused > 0 {
		p.refuse(w.refused, w.firstErr)
	}
	if w.kept == 0 {
		return 0, w.refused, nil
	}
	if len(out) < cap(out)/2 {
		// Most of the batch was refused: what waits for the exporter should not
		// hold the room the whole batch took.
		out = append([]byte(nil), out...)
	}
	if err := p.t.enqueue(p, out, w.kept); err != nil {
		return 0, total, p.refuse(0, err)
	}
	return w.kept, w.refused, nil
}

var (
	errSpanBudget = errors.New("more spans than the calls handed to the plugin allow")
	errByteBudget = errors.New("more bytes of spans than the calls handed to the plugin allow")
)

// afford says whether the budgets, refilled to now, hold a batch of size
// bytes and as many spans as the last batch read (at least one); it spends
// nothing (take does, once the batch is read).
func (p *PluginSpans) afford(size int, now time.Time) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refill(now)
	switch {
	case p.tokens < spansNeeded(p.lastSpans):
		return errSpanBudget
	case float64(size) > p.bytes:
		return errByteBudget
	}
	return nil
}

// spansNeeded is the span tokens a batch of n spans waits for: at least one,
// at most what the budget can hold.
func spansNeeded(n int) float64 { return float64(min(max(n, 1), spanBurst)) }

// refill adds what the time since the last refill gives. Called holding mu.
func (p *PluginSpans) refill(now time.Time) {
	elapsed := now.Sub(p.refilled).Seconds()
	p.tokens = min(p.tokens+elapsed*spansPerSecond, spanBurst)
	p.bytes = min(p.bytes+elapsed*bytesPerSecond, byteBurst)
	p.refilled = now
}

// spent is how long the budgets need to refill to hold a batch of size bytes
// and spans spans (the last batch read's when 0), or 0 when they hold that
// already.
func (p *PluginSpans) spent(now time.Time, size, spans int) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refill(now)
	if spans == 0 {
		spans = p.lastSpans
	}
	wait := max((float64(min(size, byteBurst))-p.bytes)/bytesPerSecond, (spansNeeded(spans)-p.tokens)/spansPerSecond)
	if wait <= 0 {
		return 0
	}
	return time.Duration(wait*float64(time.Second)) + time.Millisecond // rounded up
}

// take spends n spans and size bytes of the plugin's budgets, if it has both.
func (p *PluginSpans) take(n, size int, now time.Time) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refill(now)
	switch {
	case float64(n) > p.tokens:
		return errSpanBudget
	case float64(size) > p.bytes:
		return errByteBudget
	}
	p.tokens -= float64(n)
	p.bytes -= float64(size)
	return nil
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
