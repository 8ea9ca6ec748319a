package store

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/idplug/idplug/internal/pgtest"
)

// The batcher's rules, with a write the test holds open: the backends' own
// behaviour (one winner per id, the last record written, across handles and
// replicas) is tested on real SQLite and PostgreSQL in store_test.go.

// heldWrite is a consumeFunc that reports each batch and waits for the test
// to let it finish with the given answer.
type heldWrite struct {
	calls chan heldCall
}

type heldCall struct {
	ids      []string
	deadline time.Time
	finish   chan error // the test sends the write's error (nil: all inserted)
}

func newHeldWrite() *heldWrite { return &heldWrite{calls: make(chan heldCall)} }

func (h *heldWrite) write(ctx context.Context, ids []string, _ []int64) (map[string]bool, error) {
	c := heldCall{ids: slices.Clone(ids), finish: make(chan error)}
	c.deadline, _ = ctx.Deadline()
	h.calls <- c
	if err := <-c.finish; err != nil {
		return nil, err
	}
	inserted := map[string]bool{}
	for _, id := range ids {
		inserted[id] = true
	}
	return inserted, nil
}

// consumeAsync starts a consume and returns where its answer arrives.
func consumeAsync(ctx context.Context, b *batcher[flowRow], id string) chan error {
	out := make(chan error, 1)
	go func() { out <- b.do(ctx, flowRow{id, ms(time.Now().Add(time.Hour))}) }()
	return out
}

// waitQueued waits until n callers wait behind the running write.
func waitQueued[T any](t *testing.T, b *batcher[T], n int) {
	t.Helper()
	for {
		b.mu.Lock()
		got := len(b.queue)
		b.mu.Unlock()
		if got == n {
			return
		}
		if got > n {
			t.Fatalf("%d callers queued, want %d", got, n)
		}
		runtime.Gosched()
	}
}

func TestFlowBatchGroupsCallersWaitingOnAWrite(t *testing.T) {
	h := newHeldWrite()
	b := newBatcher(consumeBatch(h.write))
	ctx := t.Context()

	first := consumeAsync(ctx, b, "a")
	call := <-h.calls
	if !slices.Equal(call.ids, []string{"a"}) {
		t.Fatalf("a lone caller was written as %v, want [a] at once", call.ids)
	}
	var rest []chan error
	for _, id := range []string{"b", "c", "d", "c"} {
		rest = append(rest, consumeAsync(ctx, b, id))
	}
	waitQueued(t, b, 4)
	call.finish <- nil
	if err := <-first; err != nil {
		t.Fatal(err)
	}

	call = <-h.calls
	slices.Sort(call.ids)
	if !slices.Equal(call.ids, []string{"b", "c", "d"}) {
		t.Fatalf("the callers that queued were written as %v, want [b c d] in one write", call.ids)
	}
	call.finish <- nil
	var used, ok int
	for _, ch := range rest {
		switch err := <-ch; {
		case err == nil:
			ok++
		case errors.Is(err, ErrUsed):
			used++
		default:
			t.Fatal(err)
		}
	}
	if ok != 3 || used != 1 {
		t.Fatalf("%d consumed and %d refused, want 3 and 1 (c twice in one batch)", ok, used)
	}
}

func TestFlowBatchCallerWhoGivesUpIsNotRecorded(t *testing.T) {
	h := newHeldWrite()
	b := newBatcher(consumeBatch(h.write))

	first := consumeAsync(t.Context(), b, "a")
	call := <-h.calls
	ctx, cancel := context.WithCancel(t.Context())
	gone := consumeAsync(ctx, b, "gone")
	stays := consumeAsync(t.Context(), b, "stays")
	waitQueued(t, b, 2)
	cancel()
	if err := <-gone; !errors.Is(err, context.Canceled) {
		t.Fatalf("a caller who gave up while queued got %v, want context.Canceled", err)
	}
	call.finish <- nil
	<-first
	call = <-h.calls
	if !slices.Equal(call.ids, []string{"stays"}) {
		t.Fatalf("next write has %v, want [stays]: an abandoned flow must not be consumed", call.ids)
	}
	call.finish <- nil
	if err := <-stays; err != nil {
		t.Fatal(err)
	}
}

func TestFlowBatchLeaderGetsItsWritesAnswer(t *testing.T) {
	h := newHeldWrite()
	b := newBatcher(consumeBatch(h.write))
	ctx, cancel := context.WithCancel(t.Context())
	got := consumeAsync(ctx, b, "a")
	call := <-h.calls // the caller writes its own flow, and is held there
	cancel()
	call.finish <- nil
	if err := <-got; err != nil {
		t.Fatalf("got %v, want nil: the caller's own write recorded the flow", err)
	}
}

func TestFlowBatchCallerWhoGivesUpDuringAWriteIsNotHeld(t *testing.T) {
	h := newHeldWrite()
	b := newBatcher(consumeBatch(h.write))
	first := consumeAsync(t.Context(), b, "a")
	call := <-h.calls
	ctx, cancel := context.WithCancel(t.Context())
	second := consumeAsync(ctx, b, "b")
	waitQueued(t, b, 1)
	call.finish <- nil
	<-first
	call = <-h.calls // "b" is taken by a write that does not end
	cancel()
	if err := <-second; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled while its write still runs", err)
	}
	call.finish <- nil
}

func TestFlowBatchWriteErrorReachesEveryCaller(t *testing.T) {
	h := newHeldWrite()
	b := newBatcher(consumeBatch(h.write))
	ctx := t.Context()
	first := consumeAsync(ctx, b, "a")
	call := <-h.calls
	second, third := consumeAsync(ctx, b, "b"), consumeAsync(ctx, b, "c")
	waitQueued(t, b, 2)
	call.finish <- nil
	<-first
	call = <-h.calls
	boom := errors.New("connection reset")
	call.finish <- boom
	for _, ch := range []chan error{second, third} {
		if err := <-ch; !errors.Is(err, boom) {
			t.Fatalf("got %v, want the write's error", err)
		}
	}
	// The batcher goes on after a failed write.
	again := consumeAsync(ctx, b, "b")
	call = <-h.calls
	call.finish <- nil
	if err := <-again; err != nil {
		t.Fatal(err)
	}
}

// A batch's write has the latest deadline of its callers: with the earliest,
// a caller with little time left cut short the write of one with more, such
// as UpdateTokens's record of a refresh token the provider had just rotated
// (TestRotatedTokensOutlastABatchMatesDeadline). Each caller still waits only
// until its own (TestFlowBatchCallerWhoGivesUpDuringAWriteIsNotHeld).
func TestFlowBatchWriteHasTheLatestDeadline(t *testing.T) {
	h := newHeldWrite()
	b := newBatcher(consumeBatch(h.write))
	first := consumeAsync(t.Context(), b, "a")
	call := <-h.calls
	if !call.deadline.IsZero() {
		t.Fatalf("deadline %v for a caller without one", call.deadline)
	}
	soon := time.Now().Add(time.Hour)
	late, cancelLate := context.WithDeadline(t.Context(), soon.Add(time.Hour))
	defer cancelLate()
	early, cancelEarly := context.WithDeadline(t.Context(), soon)
	defer cancelEarly()
	x, y := consumeAsync(late, b, "x"), consumeAsync(early, b, "y")
	waitQueued(t, b, 2)
	call.finish <- nil
	<-first
	call = <-h.calls
	if !call.deadline.Equal(soon.Add(time.Hour)) {
		t.Fatalf("batch deadline %v, want the latest caller's %v", call.deadline, soon.Add(time.Hour))
	}
	call.finish <- nil
	<-x
	<-y

	// A caller without a deadline: the write has none.
	first = consumeAsync(t.Context(), b, "b")
	call = <-h.calls
	x, y = consumeAsync(late, b, "x2"), consumeAsync(t.Context(), b, "y2")
	waitQueued(t, b, 2)
	call.finish <- nil
	<-first
	call = <-h.calls
	if !call.deadline.IsZero() {
		t.Fatalf("batch deadline %v, want none: one of its callers set none", call.deadline)
	}
	call.finish <- nil
	<-x
	<-y
}

func TestFlowBatchIsBounded(t *testing.T) {
	h := newHeldWrite()
	b := newBatcher(consumeBatch(h.write))
	ctx := t.Context()
	first := consumeAsync(ctx, b, "first")
	call := <-h.calls
	var waiting []chan error
	for i := range maxBatch + 3 {
		waiting = append(waiting, consumeAsync(ctx, b, "id-"+string(rune('A'+i/26))+string(rune('a'+i%26))))
	}
	waitQueued(t, b, maxBatch+3)
	call.finish <- nil
	<-first
	for _, want := range []int{maxBatch, 3} {
		call = <-h.calls
		if len(call.ids) != want {
			t.Fatalf("a write of %d ids, want %d", len(call.ids), want)
		}
		call.finish <- nil
	}
	for _, ch := range waiting {
		if err := <-ch; err != nil {
			t.Fatal(err)
		}
	}
}

func TestLastOfEachKeepsTheLastRecordOfAUser(t *testing.T) {
	recs := []TokenRecord{
		{Connector: "c", UserID: "u1", KeyID: "first"},
		{Connector: "c", UserID: "u2", KeyID: "only"},
		{Connector: "d", UserID: "u1", KeyID: "other connector"},
		{Connector: "c", UserID: "u1", KeyID: "last"},
	}
	var got []string
	for _, r := range lastOfEach(recs) {
		got = append(got, r.Connector+"/"+r.UserID+"="+r.KeyID)
	}
	want := []string{"c/u2=only", "d/u1=other connector", "c/u1=last"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// TestBatchWritesOnBackends runs the batch writes themselves (a batch of one
// is the common case, so the concurrent tests may rarely reach the others) on
// real SQLite and PostgreSQL.
func TestBatchWritesOnBackends(t *testing.T) {
	pg := pgtest.Start(t)
	for _, url := range []string{"sqlite:" + t.TempDir() + "/batch.db", pg.URL} {
		s, err := Open(t.Context(), url, Options{Migrate: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		t.Run(s.Backend(), func(t *testing.T) {
			var putTokens batchWrite[TokenRecord]
			var insertFlows batchWrite[flowRow]
			switch s := s.(type) {
			case *sqliteStore:
				putTokens, insertFlows = s.putTokens, consumeBatch(s.insertFlows)
			case *postgresStore:
				putTokens, insertFlows = s.putTokens, consumeBatch(s.insertFlows)
			}
			ctx := t.Context()
			exp := ms(time.Now().Add(time.Hour))
			if err := s.ConsumeFlow(ctx, "before", time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			results, err := insertFlows(ctx, []flowRow{{"new-1", exp}, {"before", exp}, {"new-2", exp}, {"new-1", exp}})
			if err != nil {
				t.Fatal(err)
			}
			want := []error{nil, ErrUsed, nil, ErrUsed}
			for i := range want {
				if !errors.Is(results[i], want[i]) && results[i] != want[i] {
					t.Fatalf("flow %d: %v, want %v", i, results[i], want[i])
				}
			}

			recs := []TokenRecord{
				{Connector: "c", UserID: "u1", KeyID: "k", Sealed: []byte("u1 first")},
				{Connector: "c", UserID: "u2", KeyID: "k", Sealed: []byte("u2"), RefreshFailed: true},
				{Connector: "c", UserID: "u1", KeyID: "k", Sealed: []byte("u1 last"), ExpiresAt: time.UnixMilli(exp)},
			}
			if _, err := putTokens(ctx, recs); err != nil {
				t.Fatal(err)
			}
			for user, want := range map[string]string{"u1": "u1 last", "u2": "u2"} {
				got, err := s.Tokens(ctx, "c", user)
				if err != nil || string(got.Sealed) != want {
					t.Fatalf("%s: %q, %v; want %q", user, got.Sealed, err, want)
				}
				if user == "u1" && !got.ExpiresAt.Equal(time.UnixMilli(exp)) {
					t.Fatalf("u1 expires %v, want %v", got.ExpiresAt, time.UnixMilli(exp))
				}
				if user == "u2" && !got.RefreshFailed {
					t.Fatal("u2 lost its refresh-failed mark")
				}
			}

			// A record the database cannot store (PostgreSQL refuses a NUL in a
			// text) fails alone: the others of its batch are written.
			bad := []TokenRecord{
				{Connector: "c", UserID: "u3", KeyID: "k", Sealed: []byte("u3")},
				{Connector: "c", UserID: "nul\x00id", KeyID: "k", Sealed: []byte("bad")},
				{Connector: "c", UserID: "u4", KeyID: "k", Sealed: []byte("u4")},
			}
			results, err = putTokens(ctx, bad)
			if err != nil {
				t.Fatalf("one bad record failed the batch: %v", err)
			}
			for _, user := range []string{"u3", "u4"} {
				if got, err := s.Tokens(ctx, "c", user); err != nil || string(got.Sealed) != user {
					t.Fatalf("%s beside a bad record: %q, %v", user, got.Sealed, err)
				}
			}
			if s.Backend() == "postgres" && (len(results) != 3 || results[0] != nil || results[1] == nil || results[2] != nil) {
				t.Fatalf("results %v: want the bad record's error alone", results)
			}
		})
	}
}
