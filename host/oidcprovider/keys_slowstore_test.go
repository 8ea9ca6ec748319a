package oidcprovider

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/hashicorp/go-hclog"
	"github.com/idplug/idplug/host/seal"
)

// The store fails (every call runs out its store.timeout) more than
// keyCacheTTL after the keys were last read. Keys read once keep signing, but
// each token request had first read the store again, one at a time under the
// ring's lock, and a failed read left the cache as old as it was: of N
// requests together the last answered after N store timeouts (7 s each with
// PostgreSQL's default). After a failed read, the cached keys now serve
// without asking the store for keyRetryAfter.
func TestSigningWithAFailingStoreAsksItOnceAWhile(t *testing.T) {
	st := testStore(t)
	sealer := testSealer(t)
	var down atomic.Bool
	var reads atomic.Int32
	var mu sync.Mutex
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	ring := newKeyRing(unreadable{st, &down, &reads}, func() *seal.Sealer { return sealer }, time.Hour, clock, hclog.NewNullLogger())
	ctx := t.Context()
	if _, err := ring.signing(ctx, jose.RS256); err != nil {
		t.Fatal(err)
	}
	down.Store(true)
	advance(keyCacheTTL + time.Second)

	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := ring.signing(ctx, jose.RS256); err != nil {
				t.Errorf("signing with keys read %s ago: %v", keyCacheTTL, err)
			}
		})
	}
	wg.Wait()
	if n := reads.Load(); n != 1 {
		t.Fatalf("8 token requests together read the failing store %d times; want once", n)
	}
	advance(keyRetryAfter + time.Second)
	if _, err := ring.signing(ctx, jose.RS256); err != nil || reads.Load() != 2 {
		t.Fatalf("after keyRetryAfter: %v, %d reads; want the store asked again", err, reads.Load())
	}
}
