package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/host/store"
)

// pingCounting is a real store whose pings are counted, and held while block is
// set: a database that is slow to answer.
type pingCounting struct {
	store.Store
	pings   atomic.Int32
	block   chan struct{}
	inPing  chan struct{}
	failing atomic.Bool
}

func (p *pingCounting) Ping(ctx context.Context) error {
	p.pings.Add(1)
	if p.block != nil {
		p.inPing <- struct{}{}
		<-p.block
	}
	if p.failing.Load() {
		return errors.New("connection refused")
	}
	return p.Store.Ping(ctx)
}

// expire makes the next /readyz ping the store again.
func (p *storeProbe) expire() {
	p.mu.Lock()
	p.at = time.Time{}
	p.mu.Unlock()
}

// /readyz is public on the main listener: a flood of it pinged the store once
// per request, each taking a database connection that sign-ins need. The store
// is pinged at most once a second, one ping at a time; the callers between get
// the last answer.
func TestReadyzFloodPingsTheStoreOnce(t *testing.T) {
	db := &pingCounting{Store: sqliteStore(t)}
	srv := newUnitServer(t, &fakeInstances{status: host.Status{Ready: true}}, func(s *Settings) { s.Store = db })
	start := time.Now()
	var wg sync.WaitGroup
	var notOK atomic.Int32
	for range 100 {
		wg.Go(func() {
			if res := call(t, srv, http.MethodGet, "/readyz", "", ""); res.status != http.StatusOK {
				notOK.Add(1)
			}
		})
	}
	wg.Wait()
	if n := notOK.Load(); n > 0 {
		t.Errorf("%d of 100 /readyz calls not ready with the store up", n)
	}
	// One ping per probeFresh elapsed at most (a loaded machine may take longer
	// than one).
	if n, most := db.pings.Load(), int32(time.Since(start)/probeFresh)+1; n < 1 || n > most {
		t.Errorf("100 calls pinged the store %d times, want 1 to %d", n, most)
	}

	// A store that is slow to answer holds one ping; the others answer at once
	// with the last answer, and take no connection.
	db.failing.Store(true)
	db.block, db.inPing = make(chan struct{}), make(chan struct{}, 100)
	srv.storeProbe.expire()
	first := make(chan response, 1)
	go func() { first <- call(t, srv, http.MethodGet, "/readyz", "", "") }()
	<-db.inPing
	before := db.pings.Load()
	for range 20 {
		done := make(chan response, 1)
		go func() { done <- call(t, srv, http.MethodGet, "/readyz", "", "") }()
		select {
		case res := <-done:
			if res.status != http.StatusOK {
				t.Fatalf("during a ping: %d, want the last answer (ready)", res.status)
			}
		case <-db.inPing:
			close(db.block)
			t.Fatal("a second ping while one was in flight")
		}
	}
	if n := db.pings.Load(); n != before {
		t.Errorf("%d more pings while one was in flight", n-before)
	}
	close(db.block)
	if res := <-first; res.status != http.StatusServiceUnavailable {
		t.Errorf("the ping's own caller: %d, want 503 for the failed ping", res.status)
	}
	db.block = nil
	if res := call(t, srv, http.MethodGet, "/readyz", "", ""); res.status != http.StatusServiceUnavailable {
		t.Errorf("after the failed ping: %d, want its answer (503) for a second", res.status)
	}
	db.failing.Store(false)
	srv.storeProbe.expire()
	if res := call(t, srv, http.MethodGet, "/readyz", "", ""); res.status != http.StatusOK {
		t.Errorf("the store back: %d", res.status)
	}
}

// readOnlyStore answers its pings as a PostgreSQL standby does (the store's
// own test checks that against a real one).
type readOnlyStore struct{ store.Store }

func (readOnlyStore) Ping(context.Context) error {
	return fmt.Errorf("%w: ping: %w", store.ErrUnavailable, store.ErrReadOnly{Why: "the database is a standby in recovery"})
}

// A store that answers but takes no writes is not ready, and /readyz says why,
// not that the store cannot be reached.
func TestReadyzSaysTheStoreTakesNoWrites(t *testing.T) {
	srv := newUnitServer(t, &fakeInstances{status: host.Status{Ready: true}}, func(s *Settings) { s.Store = readOnlyStore{sqliteStore(t)} })
	res := call(t, srv, http.MethodGet, "/readyz", "", "")
	if res.status != http.StatusServiceUnavailable || !strings.Contains(string(res.raw), "the store takes no writes: the database is a standby in recovery") {
		t.Fatalf("/readyz: %d %s", res.status, res.raw)
	}
}
