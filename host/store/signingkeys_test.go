package store_test

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idplug/idplug/host/store"
)

// signingKey is a key record with times kept to the millisecond, as the store
// keeps them.
func signingKey(id, state string, created time.Time) store.SigningKeyRecord {
	return store.SigningKeyRecord{
		ID: id, Algorithm: "ES256", State: state,
		Sealed:    []byte("sealed\x00" + id),
		Public:    []byte(`{"kty":"EC","crv":"P-256","kid":"` + id + `"}`),
		CreatedAt: time.UnixMilli(created.UnixMilli()),
	}
}

func retired(k store.SigningKeyRecord, until time.Time) store.SigningKeyRecord {
	k.State, k.RetireAt = store.KeyRetired, time.UnixMilli(until.UnixMilli())
	return k
}

// sameSigningKeys says how got differs from want, every field compared.
func sameSigningKeys(got, want []store.SigningKeyRecord) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d keys %v, want %d %v", len(got), keyIDs(got), len(want), keyIDs(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.ID != w.ID || g.Algorithm != w.Algorithm || g.State != w.State || !bytes.Equal(g.Sealed, w.Sealed) ||
			!bytes.Equal(g.Public, w.Public) || !g.CreatedAt.Equal(w.CreatedAt) || !g.RetireAt.Equal(w.RetireAt) {
			return fmt.Errorf("key %d is %+v, want %+v", i, g, w)
		}
	}
	return nil
}

func keyIDs(keys []store.SigningKeyRecord) []string {
	var ids []string
	for _, k := range keys {
		ids = append(ids, k.ID+"/"+k.State)
	}
	return ids
}

func testSigningKeys(t *testing.T, s, other store.Store) {
	ctx := t.Context()
	base := time.Now()
	check := func(st store.Store, want []store.SigningKeyRecord) {
		t.Helper()
		got, err := st.SigningKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := sameSigningKeys(got, want); err != nil {
			t.Fatal(err)
		}
	}
	check(s, nil)
	k1 := signingKey("k1", store.KeyActive, base)
	k2 := signingKey("k2", store.KeyNext, base.Add(time.Second))
	// Written newest first: read back oldest first.
	if err := s.ReplaceSigningKeys(ctx, nil, []store.SigningKeyRecord{k2, k1}); err != nil {
		t.Fatal(err)
	}
	check(other, []store.SigningKeyRecord{k1, k2})
	first, err := other.SigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// A rotation, from what other read.
	k3 := signingKey("k3", store.KeyNext, base.Add(2*time.Second))
	k2a := k2
	k2a.State = store.KeyActive
	rotated := []store.SigningKeyRecord{retired(k1, base.Add(time.Hour)), k2a, k3}
	if err := other.ReplaceSigningKeys(ctx, first, rotated); err != nil {
		t.Fatal(err)
	}
	check(s, rotated)

	// A replica that read before the rotation, or expects anything else than
	// what is stored, changes nothing.
	k1active := rotated[0]
	k1active.State, k1active.RetireAt = store.KeyActive, time.Time{}
	for name, stale := range map[string][]store.SigningKeyRecord{
		"the set before the rotation": first,
		"no keys":                     nil,
		"a key missing":               rotated[:2],
		"a key more":                  append(slices.Clone(rotated), signingKey("k0", store.KeyNext, base)),
		"a key in another state":      {k1active, rotated[1], rotated[2]},
		"a key twice":                 {rotated[0], rotated[1], rotated[1]},
	} {
		for _, st := range []store.Store{s, other} {
			err := st.ReplaceSigningKeys(ctx, stale, []store.SigningKeyRecord{signingKey("k9", store.KeyActive, base)})
			if !errors.Is(err, store.ErrUsed) {
				t.Fatalf("expecting %s: %v, want ErrUsed", name, err)
			}
		}
	}
	check(other, rotated)
	// The order of expect does not matter.
	reversed := slices.Clone(rotated)
	slices.Reverse(reversed)
	if err := s.ReplaceSigningKeys(ctx, reversed, rotated); err != nil {
		t.Fatalf("expecting the stored set in another order: %v", err)
	}

	// A set that breaks the rules is refused, not as a database failure, and
	// writes nothing.
	noSealed := signingKey("k5", store.KeyNext, base)
	noSealed.Sealed = nil
	nextWithRetire := signingKey("k5", store.KeyNext, base)
	nextWithRetire.RetireAt = base
	for name, bad := range map[string][]store.SigningKeyRecord{
		"two keys with one ID":   {rotated[0], rotated[1], signingKey("k2", store.KeyNext, base)},
		"an unknown state":       {signingKey("k5", "spare", base)},
		"no ID":                  {signingKey("", store.KeyNext, base)},
		"no sealed key":          {noSealed},
		"retired without a date": {signingKey("k5", store.KeyRetired, base)},
		"next with a RetireAt":   {nextWithRetire},
	} {
		err := s.ReplaceSigningKeys(ctx, rotated, bad)
		if err == nil || errors.Is(err, store.ErrUsed) || errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("writing %s: %v, want an error of its own", name, err)
		}
	}
	check(s, rotated)

	// Purge drops a retired key whose RetireAt passed, and only that one.
	k4 := signingKey("k4", store.KeyNext, base.Add(3*time.Second))
	k3a := k3
	k3a.State = store.KeyActive
	purgeable := []store.SigningKeyRecord{retired(k1, base.Add(-time.Second)), retired(k2, base.Add(time.Hour)), k3a, k4}
	if err := s.ReplaceSigningKeys(ctx, rotated, purgeable); err != nil {
		t.Fatal(err)
	}
	n, err := other.Purge(ctx, time.Now())
	if err != nil || n < 1 {
		t.Fatalf("Purge = %d, %v", n, err)
	}
	check(s, purgeable[1:])
	// A replacer that read before the purge finds the set changed.
	if err := other.ReplaceSigningKeys(ctx, purgeable, purgeable[1:]); !errors.Is(err, store.ErrUsed) {
		t.Fatalf("expecting the keys before the purge: %v, want ErrUsed", err)
	}
}

// testSigningKeysRace rotates the keys from the same set on 8 replacers on two
// handles: exactly one rotation is written, whole.
func testSigningKeysRace(t *testing.T, s, other store.Store) {
	ctx := t.Context()
	base := time.Now()
	cur, err := s.SigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cur) == 0 {
		k := signingKey("race-first", store.KeyActive, base)
		if err := s.ReplaceSigningKeys(ctx, nil, []store.SigningKeyRecord{k}); err != nil {
			t.Fatal(err)
		}
		cur = []store.SigningKeyRecord{k}
	}
	rotation := func(i int) []store.SigningKeyRecord {
		var next []store.SigningKeyRecord
		for _, k := range cur {
			switch k.State {
			case store.KeyNext:
				k.State = store.KeyActive
			case store.KeyActive:
				k = retired(k, base.Add(time.Hour))
			}
			next = append(next, k)
		}
		return append(next, signingKey(fmt.Sprint("race-", i), store.KeyNext, base.Add(time.Minute)))
	}
	var wins atomic.Int32
	winner := -1
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			st := s
			if i%2 == 1 {
				st = other
			}
			err := st.ReplaceSigningKeys(ctx, cur, rotation(i))
			switch {
			case err == nil:
				wins.Add(1)
				mu.Lock()
				winner = i
				mu.Unlock()
			case !errors.Is(err, store.ErrUsed):
				t.Errorf("ReplaceSigningKeys: %v, want nil or ErrUsed", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d replacers rotated the keys, want 1", wins.Load())
	}
	for _, st := range []store.Store{s, other} {
		got, err := st.SigningKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := sameSigningKeys(got, rotation(winner)); err != nil {
			t.Fatalf("after the race, won by race-%d: %v", winner, err)
		}
	}
}
