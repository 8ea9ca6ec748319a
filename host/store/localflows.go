package store

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrStale is returned by ConsumeFlow of a store that keeps consumed flows in
// memory, for a flow sealed before the last restart that was not graceful:
// whether that flow was finished before the crash cannot be known.
var ErrStale = errors.New("store: the flow was sealed before an unclean restart")

// RunScoped is implemented by a store whose consumed flows live in this
// process's memory. Flow ids must come from NewFlowID: they name the run that
// issued them, so that ConsumeFlow can tell a flow from before a crash.
type RunScoped interface {
	NewFlowID() string
}

// KeepFlowsInMemory returns st with ConsumeFlow answered from this process's
// memory when raw, the store under st, is SQLite: only one process uses a
// SQLite file, so no other can consume the same flow, and a sign-in then
// writes nothing to disk. The consumed ids are read back from the file now and
// written to it by Close; a run that ends without Close (a crash) makes the
// next one refuse, with ErrStale, every flow sealed before it. Any other store
// is returned as it is. timeout bounds the write at Close.
func KeepFlowsInMemory(ctx context.Context, raw, st Store, timeout time.Duration) (Store, error) {
	file, ok := raw.(*sqliteStore)
	if !ok {
		return st, nil
	}
	now := time.Now()
	run, floor, used, err := file.beginRun(ctx, now)
	if err != nil {
		return nil, err
	}
	l := &localFlows{Store: st, file: file, run: run, floor: floor, timeout: timeout, now: time.Now,
		buckets: map[int64]map[string]int64{}, swept: minuteOf(now.UnixMilli())}
	for _, r := range used {
		l.add(r.id, r.expires)
	}
	return l, nil
}

// localFlows keeps consumed flow ids in memory, in buckets by the minute they
// expire in: a lookup knows its flow's expiry (it comes from the sealed flow, so
// a replay brings the same one), and whole buckets are dropped as time passes,
// so memory is bounded by the flows of one session_ttl.
type localFlows struct {
	Store
	file       *sqliteStore
	run, floor int64
	timeout    time.Duration
	now        func() time.Time

	mu      sync.Mutex
	buckets map[int64]map[string]int64 // expiry minute -> id -> expiry (Unix ms)
	swept   int64                      // the minute buckets were last dropped up to
	closed  bool
}

// NewFlowID is 256 random bits, URL-safe, after this run's number.
func (l *localFlows) NewFlowID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "r" + strconv.FormatInt(l.run, 10) + "." + base64.RawURLEncoding.EncodeToString(b)
}

// runOf is the run a flow id names; 0 for ids from before runs were counted.
func runOf(id string) int64 {
	prefix, _, ok := strings.Cut(id, ".")
	if !ok || !strings.HasPrefix(prefix, "r") {
		return 0
	}
	n, err := strconv.ParseInt(prefix[1:], 10, 64)
	if err != nil {
		return 0
	}
	return n
}

func minuteOf(unixMS int64) int64 { return unixMS / 60_000 }

func (l *localFlows) ConsumeFlow(_ context.Context, id string, expires time.Time) error {
	if runOf(id) < l.floor {
		return ErrStale
	}
	exp := ms(expires)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		// The set was saved: a flow consumed now would be forgotten.
		return fmt.Errorf("%w: the store is closing", ErrUnavailable)
	}
	l.sweep(minuteOf(l.now().UnixMilli()))
	if !l.add(id, exp) {
		return ErrUsed
	}
	return nil
}

// add records id; false when it was there already. Called holding mu (or
// before l is shared).
func (l *localFlows) add(id string, exp int64) bool {
	m := minuteOf(exp)
	b := l.buckets[m]
	if b == nil {
		b = map[string]int64{}
		l.buckets[m] = b
	}
	if _, used := b[id]; used {
		return false
	}
	b[id] = exp
	return true
}

// sweep drops the buckets that expired before minute now, at most once a minute.
func (l *localFlows) sweep(now int64) {
	if now <= l.swept {
		return
	}
	for m := range l.buckets {
		if m < now {
			delete(l.buckets, m)
		}
	}
	l.swept = now
}

// Close saves the consumed flows that have not expired and marks the run as
// stopped gracefully, then closes the store.
func (l *localFlows) Close() error {
	l.mu.Lock()
	l.closed = true
	now := l.now().UnixMilli()
	var rows []flowRow
	for _, b := range l.buckets {
		for id, exp := range b {
			if exp >= now {
				rows = append(rows, flowRow{id, exp})
			}
		}
	}
	l.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
	defer cancel()
	return errors.Join(l.file.endRun(ctx, l.run, rows), l.Store.Close())
}

// consumedInMemory is how many consumed flow ids l holds, for tests and metrics.
func (l *localFlows) consumedInMemory() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, b := range l.buckets {
		n += len(b)
	}
	return n
}
