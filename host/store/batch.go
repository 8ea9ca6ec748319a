package store

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Group commit for consumed flows. Each finished sign-in writes one flow id,
// and on a busy host most of a write's cost is the commit (SQLite) or the
// round trip (PostgreSQL), not the row. So the ids that callers consume while
// a write is running queue up, and the next write records all of them in one
// statement. A caller who finds no write running is written at once: batches
// form only under load, and nobody waits on a timer.
//
// A write has the earliest deadline of the callers in it, and no caller's
// cancellation: the others still want their answer.

// maxFlowBatch bounds one write: 2 parameters a row stays far below SQLite's
// limit, and a slow batch cannot hold many callers.
const maxFlowBatch = 64

// consumeFunc records ids (with their expiries, in Unix milliseconds) in one
// statement and reports which ones it inserted; the others were there before.
type consumeFunc func(ctx context.Context, ids []string, expires []int64) (inserted map[string]bool, err error)

type flowBatcher struct {
	write consumeFunc

	mu    sync.Mutex
	queue []*pendingFlow
	// writing is set while a caller or a drain writes; one write at a time
	// is what lets the next one gather everyone who queued meanwhile. (Two
	// at once measured no faster on PostgreSQL either.)
	writing bool
}

// A pendingFlow moves from queued to taken (a write has it) or to abandoned
// (its caller gave up first, so no write will ever record it).
const (
	flowQueued int32 = iota
	flowTaken
	flowAbandoned
)

type pendingFlow struct {
	id      string
	expires int64
	// deadline bounds the write that takes this flow; zero when the caller set none.
	deadline time.Time
	state    atomic.Int32
	done     chan error // one answer: nil, ErrUsed or the write's error
}

func newFlowBatcher(write consumeFunc) *flowBatcher {
	return &flowBatcher{write: write}
}

// consume records id, batched with whatever other callers consume meanwhile.
// ErrUsed when it was recorded before. Any other error is fail-closed: the id
// may or may not be recorded, and the caller must not let the flow finish.
func (b *flowBatcher) consume(ctx context.Context, id string, expires time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p := &pendingFlow{id: id, expires: ms(expires), done: make(chan error, 1)}
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
		// that this caller answers its own request without delay.
		b.flush(b.take())
		if b.more() {
			go b.drain()
		}
		select {
		case err := <-p.done:
			return err
		default: // a long queue: p is in a later batch
		}
	}
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
		// Abandoned while queued, no write will record the id. Taken by a
		// write already, it may yet be recorded, and the caller does not
		// wait to learn it: a write that hangs must not hang the request.
		p.state.CompareAndSwap(flowQueued, flowAbandoned)
		return ctx.Err()
	}
}

// drain writes batches until nobody waits.
func (b *flowBatcher) drain() {
	for {
		b.flush(b.take())
		if !b.more() {
			return
		}
	}
}

// more reports whether callers wait for a write. When none do, the writer
// gives up its place under the same lock, so that no caller is ever left
// queued with nobody to write for it.
func (b *flowBatcher) more() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.queue) > 0 {
		return true
	}
	b.writing = false
	return false
}

// take removes the next batch from the queue.
func (b *flowBatcher) take() []*pendingFlow {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := min(len(b.queue), maxFlowBatch)
	batch := b.queue[:n:n]
	b.queue = b.queue[n:]
	if len(b.queue) == 0 {
		b.queue = nil // let the backing array go
	}
	return batch
}

// flush writes one batch and answers each of its callers.
func (b *flowBatcher) flush(batch []*pendingFlow) {
	ids := make([]string, 0, len(batch))
	expires := make([]int64, 0, len(batch))
	live := make([]*pendingFlow, 0, len(batch))
	seen := make(map[string]bool, len(batch))
	var deadline time.Time
	for _, p := range batch {
		if !p.state.CompareAndSwap(flowQueued, flowTaken) {
			continue // abandoned: its caller has its answer
		}
		if seen[p.id] {
			// The same flow finished twice at once: the first in the queue
			// is the one that may win, so this one is a replay.
			p.done <- ErrUsed
			continue
		}
		seen[p.id] = true
		ids = append(ids, p.id)
		expires = append(expires, p.expires)
		live = append(live, p)
		if !p.deadline.IsZero() && (deadline.IsZero() || p.deadline.Before(deadline)) {
			deadline = p.deadline
		}
	}
	if len(live) == 0 {
		return
	}
	// Cut loose from any one caller's cancellation (the others still want
	// their answer), but never past the earliest deadline among them.
	ctx, cancel := context.Background(), context.CancelFunc(func() {})
	if !deadline.IsZero() {
		ctx, cancel = context.WithDeadline(ctx, deadline)
	}
	inserted, err := b.write(ctx, ids, expires)
	cancel()
	for _, p := range live {
		switch {
		case err != nil:
			p.done <- err
		case inserted[p.id]:
			p.done <- nil
		default:
			p.done <- ErrUsed
		}
	}
}
