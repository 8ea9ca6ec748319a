package store

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Group commit. Each finished sign-in writes a flow id (and, for instances
// that keep tokens, a vault record), and on a busy host most of a write's cost
// is the commit (SQLite) or the round trip (PostgreSQL), not the row. So what
// callers write while a write is running queues up, and the next write records
// all of it in one statement. A caller who finds no write running writes at
// once, in its own goroutine: batches form only under load, and nobody waits
// on a timer.
//
// A write has the latest deadline of the callers in it (none when one of them
// has none), and no caller's cancellation: each caller waits for its answer
// within its own context, and one with little time left must not cut short
// the write of one with more (UpdateTokens's record, say, which holds a
// refresh token the provider has just rotated).

// maxBatch bounds one write: SQLite's parameters stay far below its limit,
// and a slow batch cannot hold many callers.
const maxBatch = 64

// batchWrite writes items in one statement or transaction. It answers either
// one error for all of them, or one result per item (nil, or an error of that
// item's own, like ErrUsed).
type batchWrite[T any] func(ctx context.Context, items []T) (results []error, err error)

type batcher[T any] struct {
	write batchWrite[T]

	mu    sync.Mutex
	queue []*pending[T]
	// writing is set while a caller or a drain writes; one write at a time
	// is what lets the next one gather everyone who queued meanwhile.
	writing bool
}

// A pending item moves from queued to taken (a write has it) or to abandoned
// (its caller gave up first, so no write will ever record it).
const (
	queued int32 = iota
	taken
	abandoned
)

type pending[T any] struct {
	item T
	// deadline bounds the write that takes this item; zero when the caller set none.
	deadline time.Time
	state    atomic.Int32
	done     chan error // one answer
}

func newBatcher[T any](write batchWrite[T]) *batcher[T] {
	return &batcher[T]{write: write}
}

// do writes item, batched with whatever other callers write meanwhile. An
// error other than the item's own result is fail-closed: the item may or may
// not be written, and the caller must act as if it was not.
func (b *batcher[T]) do(ctx context.Context, item T) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p := &pending[T]{item: item, done: make(chan error, 1)}
	p.deadline, _ = ctx.Deadline()
	b.mu.Lock()
	b.queue = append(b.queue, p)
	lead := !b.writing
	b.writing = true
	b.mu.Unlock()
	if lead {
		// Write at once, in this goroutine: handing the write to another
		// goroutine and waiting to be woken cost as much as the write itself
		// on a busy machine. Whoever queued meanwhile is left to a drain, so
		// that this caller answers its own request without delay, and waits
		// no longer than its own deadline (p is first in the queue).
		b.flush(b.take(1))
		if b.more() {
			go b.drain()
		}
		select {
		case err := <-p.done:
			return err // always: the queue was empty when p joined it
		default:
		}
	}
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
		// Abandoned while queued, no write will record the item. Taken by
		// a write already, it may yet be recorded, and the caller does not
		// wait to learn it: a write that hangs must not hang the request.
		p.state.CompareAndSwap(queued, abandoned)
		return ctx.Err()
	}
}

// drain writes batches until nobody waits.
func (b *batcher[T]) drain() {
	for {
		b.flush(b.take(maxBatch))
		if !b.more() {
			return
		}
	}
}

// more reports whether callers wait for a write. When none do, the writer
// gives up its place under the same lock, so that no caller is ever left
// queued with nobody to write for it.
func (b *batcher[T]) more() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.queue) > 0 {
		return true
	}
	b.writing = false
	return false
}

// take removes the next batch, of at most n, from the queue.
func (b *batcher[T]) take(n int) []*pending[T] {
	b.mu.Lock()
	defer b.mu.Unlock()
	n = min(len(b.queue), n)
	batch := b.queue[:n:n]
	b.queue = b.queue[n:]
	if len(b.queue) == 0 {
		b.queue = nil // let the backing array go
	}
	return batch
}

// flush writes one batch and answers each of its callers.
func (b *batcher[T]) flush(batch []*pending[T]) {
	live := make([]*pending[T], 0, len(batch))
	items := make([]T, 0, len(batch))
	var deadline time.Time
	unbounded := false // a caller set no deadline
	for _, p := range batch {
		if !p.state.CompareAndSwap(queued, taken) {
			continue // abandoned: its caller has its answer
		}
		live = append(live, p)
		items = append(items, p.item)
		unbounded = unbounded || p.deadline.IsZero()
		if p.deadline.After(deadline) {
			deadline = p.deadline
		}
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.Background(), context.CancelFunc(func() {})
	if !unbounded {
		ctx, cancel = context.WithDeadline(ctx, deadline)
	}
	results, err := b.write(ctx, items)
	cancel()
	for i, p := range live {
		switch {
		case err != nil:
			p.done <- err
		case i < len(results):
			p.done <- results[i]
		default:
			p.done <- nil
		}
	}
}

// flowRow is a consumed flow: its id, and when it may be purged (Unix ms).
type flowRow struct {
	id      string
	expires int64
}

// consumeBatch turns an insert that reports which ids it added into a
// batchWrite of flows. The same id twice in one batch is a replay racing its
// original: the first in the queue is the one that may win.
func consumeBatch(insert func(ctx context.Context, ids []string, expires []int64) (inserted map[string]bool, err error)) batchWrite[flowRow] {
	return func(ctx context.Context, flows []flowRow) ([]error, error) {
		results := make([]error, len(flows))
		ids := make([]string, 0, len(flows))
		expires := make([]int64, 0, len(flows))
		seen := make(map[string]bool, len(flows))
		for i, f := range flows {
			if seen[f.id] {
				results[i] = ErrUsed
				continue
			}
			seen[f.id] = true
			ids = append(ids, f.id)
			expires = append(expires, f.expires)
		}
		inserted, err := insert(ctx, ids, expires)
		if err != nil {
			return nil, err
		}
		for i, f := range flows {
			if results[i] == nil && !inserted[f.id] {
				results[i] = ErrUsed
			}
		}
		return results, nil
	}
}

// lastOfEach keeps, of vault records for the same (connector, user), the last
// in the queue: the batch then stores what writing them one by one would.
func lastOfEach(recs []TokenRecord) []TokenRecord {
	type key struct{ connector, user string }
	last := make(map[key]int, len(recs))
	for i, r := range recs {
		last[key{r.Connector, r.UserID}] = i
	}
	if len(last) == len(recs) {
		return recs
	}
	out := make([]TokenRecord, 0, len(last))
	for i, r := range recs {
		if last[key{r.Connector, r.UserID}] == i {
			out = append(out, r)
		}
	}
	return out
}
