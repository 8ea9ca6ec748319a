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
// process's memory. Flow ids from NewFlowID name the run that issued them, so
// that ConsumeFlow can tell a flow from before a crash, and only those are
// kept in memory: any other id is written to the database as it is consumed.
type RunScoped interface {
	NewFlowID() string
}

// KeepFlowsInMemory returns st with ConsumeFlow answered from this process's
// memory when raw, the store under st, is SQLite: only one process uses a
// SQLite file, so no other can consume the same flow, and a sign-in then
// writes nothing to disk. The consumed ids are read back from the file now and
// written to it by Close; a run that ends without Close (a crash) makes the
// next one refuse, with ErrStale, every flow sealed before it. Any other store
// is returned as it is. timeout bounds the write at Close. A file another
// process (or another open store) keeps flows of is refused, naming why.
//
// Only ids from NewFlowID name a run, and only they are kept in memory. Any
// other id (the OpenID Provider's client assertion ids, a flow sealed before
// runs were counted) is consumed in the file at once, through st: no run can
// tell whether it came before a crash, so it is never lost in one.
func KeepFlowsInMemory(ctx context.Context, raw, st Store, timeout time.Duration) (Store, error) {
	file, ok := raw.(*sqliteStore)
	if !ok {
		return st, nil
	}
	if file.alone == nil { // opened without Options.OneProcess
		alone, err := holdAlone(file.path)
		if err != nil {
			return nil, err
		}
		file.alone = alone
	}
	now := time.Now()
	run, prev, floor, used, err := file.beginRun(ctx, now)
	if err != nil {
		return nil, err
	}
	l := &localFlows{Store: st, file: file, run: run, prev: prev, floor: floor, timeout: timeout, now: time.Now,
		buckets: map[int64]map[string]int64{}, swept: minuteOf(now.UnixMilli())}
	for _, r := range used {
		if _, ok := runOf(r.id); ok { // the others are looked up in the file
			l.add(r.id, r.expires)
		}
	}
	return l, nil
}

// AfterUncleanStop says whether st keeps consumed flows in memory and the run
// before this one ended without saving them (a crash, a kill): every flow
// sealed before this start is then refused with ErrStale.
func AfterUncleanStop(st Store) bool {
	l, ok := st.(*localFlows)
	return ok && l.floor == l.run
}

// localFlows keeps consumed flow ids in memory, in buckets by the minute they
// expire in: a lookup knows its flow's expiry (it comes from the sealed flow, so
// a replay brings the same one), and whole buckets are dropped as time passes,
// so memory is bounded by the flows of one session_ttl.
type localFlows struct {
	Store
	file *sqliteStore
	// run is this run's number; prev the last run's before it, up to which
	// (from floor) runs of this database's timeline are known.
	run, prev, floor int64
	timeout          time.Duration
	now              func() time.Time

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

// runOf is the run a flow id from NewFlowID names; false for an id that names
// none.
func runOf(id string) (int64, bool) {
	prefix, rest, ok := strings.Cut(id, ".")
	digits, isRun := strings.CutPrefix(prefix, "r")
	if !ok || !isRun || rest == "" || digits == "" || strings.Trim(digits, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n < 1 {
		return 0, false
	}
	return n, true
}

func minuteOf(unixMS int64) int64 { return unixMS / 60_000 }

func (l *localFlows) ConsumeFlow(ctx context.Context, id string, expires time.Time) error {
	run, named := runOf(id)
	if !named {
		// No floor can tell such an id from before a crash: it is consumed
		// in the file, where a crash cannot lose it.
		if l.isClosed() {
			return fmt.Errorf("%w: the store is closing", ErrUnavailable)
		}
		return l.Store.ConsumeFlow(ctx, id, expires)
	}
	// This run's, or a run of this database before it, from the floor: a
	// run between the last one and this one never was in this timeline (a
	// database restored from a backup, whose lost runs finished flows it
	// does not know of), and one after this run is another process's (a
	// second process on the same file).
	if run != l.run && (run < l.floor || run > l.prev) {
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

func (l *localFlows) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
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
