package tracing

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	connectorv1 "github.com/idplug/idplug/proto/gen/idplug/connector/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// A plugin past its budget that kept sending batches of a megabyte had each
// read and copied whole before its refusal: near a core of the host's for
// spans that were all dropped. A batch the budget cannot take is refused
// before it is read (here one that is not even OTLP: read, it would have been
// refused as that), and Collect does not read the stream until the budget
// refills, so gRPC's flow control holds the plugin back.
func TestSpentBudgetRefusesBeforeReading(t *testing.T) {
	now := time.Unix(5_000_000, 0)
	clock = func() time.Time { return now }
	t.Cleanup(func() { clock = time.Now })
	p, q, tid := intake(t)
	var spans [][]byte
	for range 500 {
		spans = append(spans, marshal(t, fatSpan(tid, "s", 15, 110)))
	}
	batch := request(spans...)
	spendBudget(t, p, q, batch)
	if wait := p.spent(now, len(batch), 500); wait <= 0 || wait > time.Second {
		t.Fatalf("spent budget: Collect would wait %v", wait)
	}
	garbage := bytes.Repeat([]byte{0xff}, len(batch))
	if _, _, err := p.Accept(garbage); !errors.Is(err, errByteBudget) && !errors.Is(err, errSpanBudget) {
		t.Errorf("a batch past the budget was read: %v; want the budget's refusal", err)
	}
	now = now.Add(p.spent(now, len(batch), 500))
	if wait := p.spent(now, len(batch), 500); wait != 0 {
		t.Errorf("after the wait, %v more", wait)
	}
	if _, _, err := p.Accept(garbage); err == nil || errors.Is(err, errByteBudget) || errors.Is(err, errSpanBudget) {
		t.Errorf("with the budget back, a batch that is no OTLP: %v; want it read and refused as such", err)
	}
}

type endingStream struct {
	connectorv1.UnimplementedTraceServiceServer
}

func (endingStream) StreamSpans(*connectorv1.StreamSpansRequest, connectorv1.TraceService_StreamSpansServer) error {
	return status.Error(codes.Internal, "FORGED\n2030-01-01 [ERROR] idplug: \u009b2J\u202e "+strings.Repeat("x", 40_000))
}

// A plugin's span stream that ends with an error of its own is logged in its
// words bounded and on one line, as its spans' status messages are: 40 KB of
// them, a line break and terminal controls had reached the log as they were.
func TestSpanStreamErrorIsBounded(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	connectorv1.RegisterTraceServiceServer(srv, endingStream{})
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	var buf bytes.Buffer
	tr := &Tracing{log: hclog.New(&hclog.LoggerOptions{Output: &buf, JSONFormat: true}), forward: make(chan pluginBatch, 1)}
	cc, err := grpc.NewClient("passthrough:///"+l.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tr.Plugin("evil").Collect(ctx, cc)
	out := buf.String()
	if len(out) > 2<<10 || strings.ContainsAny(out, "\u009b\u202e") || strings.Count(out, "\n") != 1 || !strings.Contains(out, "the span stream ended: Internal: FORGED") {
		t.Errorf("the stream's end, logged: %d bytes: %.300q", len(out), out)
	}
}

// Past its span budget with small spans (bytes to spare), a plugin's batch
// is refused, before it is read when the last batch needed more spans than
// are left; Collect then waits until the budget holds a batch's spans, not
// one: at one, a plugin sending batches of 500 small spans had each read and
// refused at once for half a second at a time.
func TestSpentSpanBudgetWaitsForTheBatch(t *testing.T) {
	now := time.Unix(5_000_000, 0)
	clock = func() time.Time { return now }
	t.Cleanup(func() { clock = time.Now })
	p, q, tid := intake(t)
	var spans [][]byte
	for range 500 {
		spans = append(spans, marshal(t, fatSpan(tid, "s", 0, 0)))
	}
	batch := request(spans...)
	refused, err := spendBudget(t, p, q, batch) // 0 refused: before it was read, as the last batch needed more
	if !errors.Is(err, errSpanBudget) {
		t.Fatalf("the refusal: %v; want the span budget's", err)
	}
	wait := p.spent(now, len(batch), refused)
	if wait < 100*time.Millisecond {
		t.Fatalf("Collect would read the next batch after %v; want the time 500 spans take to refill", wait)
	}
	now = now.Add(wait)
	if kept, _, err := p.Accept(batch); kept != 500 || err != nil {
		t.Errorf("after the wait: kept %d, %v", kept, err)
	}
}

// spendBudget has p accept batch until its budget refuses it, and returns
// the refusal: how many spans it counted and why.
func spendBudget(t *testing.T, p *PluginSpans, q chan pluginBatch, batch []byte) (int, error) {
	t.Helper()
	for {
		kept, refused, err := p.Accept(batch)
		if kept == 0 {
			if !errors.Is(err, errByteBudget) && !errors.Is(err, errSpanBudget) {
				t.Fatalf("the budget's refusal: %v", err)
			}
			return refused, err
		}
		(<-q).out()
	}
}
