package store_test

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idplug/idplug/host/store"
)

// testGrantLife follows one grant: recorded, read, rotated, an old refresh
// token coming back, revoked.
func testGrantLife(t *testing.T, s, other store.Store) {
	ctx := t.Context()
	now := time.Now()
	if _, err := s.PutGrant(ctx, "grant-1", "client-a", "sub-a", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	client, gen, err := other.Grant(ctx, "grant-1", now)
	if err != nil || client != "client-a" || gen != 0 {
		t.Fatalf("Grant = %q, %d, %v; want client-a, 0", client, gen, err)
	}
	if err := other.RotateGrant(ctx, "grant-1", 0, now.Add(2*time.Hour)); err != nil {
		t.Fatalf("RotateGrant 0 -> 1: %v", err)
	}
	// The rotation moved the generation and the expiry.
	client, gen, err = s.Grant(ctx, "grant-1", now.Add(90*time.Minute))
	if err != nil || client != "client-a" || gen != 1 {
		t.Fatalf("after the rotation: Grant = %q, %d, %v; want client-a, 1", client, gen, err)
	}
	// The refresh token of generation 0 comes back: ErrUsed, and the grant
	// is revoked by the same write, so that no failure after it can forget
	// the reuse. Then on the other replica, and one of a generation never
	// issued: the grant is gone.
	if err := s.RotateGrant(ctx, "grant-1", 0, now.Add(3*time.Hour)); !errors.Is(err, store.ErrUsed) {
		t.Fatalf("RotateGrant from generation 0 of a grant at 1: %v, want ErrUsed", err)
	}
	if _, _, err := other.Grant(ctx, "grant-1", now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after a reused refresh token: %v, want the grant revoked", err)
	}
	if err := other.RevokeGrant(ctx, "grant-1"); err != nil {
		t.Fatalf("revoking a revoked grant: %v", err)
	}
	// A revoked grant is gone, whatever the generation: not ErrUsed.
	for _, from := range []int64{1, 0, 7} {
		if err := s.RotateGrant(ctx, "grant-1", from, now.Add(time.Hour)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("RotateGrant from %d of a revoked grant: %v, want ErrNotFound", from, err)
		}
	}
	if _, _, err := s.Grant(ctx, "grant-1", now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a revoked grant came back after a rotation: %v", err)
	}
	for _, id := range []string{"grant-1", "nobody"} {
		if err := s.RevokeGrant(ctx, id); err != nil {
			t.Fatalf("revoking %s again or unknown: %v", id, err)
		}
	}
	if _, _, err := s.Grant(ctx, "nobody", now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown grant: %v", err)
	}
	if err := s.RotateGrant(ctx, "nobody", 0, now.Add(time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("rotating an unknown grant: %v, want ErrNotFound", err)
	}
}

// testGrantCodeTwice exchanges one authorization code twice, in turn and at
// once: one grant, the first one.
func testGrantCodeTwice(t *testing.T, s, other store.Store) {
	ctx := t.Context()
	now := time.Now()
	if _, err := s.PutGrant(ctx, "grant-code", "client-a", "sub-a", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, st := range []store.Store{s, other} {
		if _, err := st.PutGrant(ctx, "grant-code", "client-b", "sub-a", now.Add(2*time.Hour)); !errors.Is(err, store.ErrUsed) {
			t.Fatalf("second PutGrant: %v, want ErrUsed", err)
		}
	}
	// The replay revoked the first exchange's grant, in the write that
	// found it (RFC 6749 4.1.2).
	if client, gen, err := other.Grant(ctx, "grant-code", now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after a replayed code: Grant = %q, %d, %v; want it revoked", client, gen, err)
	}
	// A revoked grant's id stays used.
	if err := s.RevokeGrant(ctx, "grant-code"); err != nil {
		t.Fatal(err)
	}
	if _, err := other.PutGrant(ctx, "grant-code", "client-a", "sub-a", now.Add(time.Hour)); !errors.Is(err, store.ErrUsed) {
		t.Fatalf("PutGrant of a revoked grant's id: %v, want ErrUsed", err)
	}
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			st := s
			if i%2 == 1 {
				st = other
			}
			_, err := st.PutGrant(ctx, "grant-code-race", fmt.Sprint("client-", i), "sub-a", now.Add(time.Hour))
			switch {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, store.ErrUsed):
				t.Errorf("PutGrant: %v", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d callers recorded one grant, want 1", wins.Load())
	}
}

func testGrantExpiry(t *testing.T, s, other store.Store) {
	ctx := t.Context()
	now := time.Now()
	if _, err := s.PutGrant(ctx, "grant-live", "client-a", "sub-a", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := other.Grant(ctx, "grant-live", now); err != nil {
		t.Fatal(err)
	}
	if _, _, err := other.Grant(ctx, "grant-live", now.Add(2*time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Grant after its expiry: %v, want ErrNotFound", err)
	}
	// A grant that expired already: not found, and a rotation does not bring
	// it back.
	if _, err := s.PutGrant(ctx, "grant-old", "client-a", "sub-a", now.Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := other.Grant(ctx, "grant-old", now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired grant: %v, want ErrNotFound", err)
	}
	if err := other.RotateGrant(ctx, "grant-old", 0, now.Add(time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("RotateGrant of an expired grant: %v, want ErrNotFound", err)
	}
	if _, _, err := s.Grant(ctx, "grant-old", now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an expired grant came back after a rotation: %v", err)
	}
	// Until purged, its id is still taken.
	if _, err := s.PutGrant(ctx, "grant-old", "client-a", "sub-a", now.Add(time.Hour)); !errors.Is(err, store.ErrUsed) {
		t.Fatalf("PutGrant of an expired, unpurged grant: %v, want ErrUsed", err)
	}
	n, err := other.Purge(ctx, time.Now())
	if err != nil || n < 1 {
		t.Fatalf("Purge = %d, %v", n, err)
	}
	// Purged: the row is gone, so the id can be recorded afresh.
	if _, err := s.PutGrant(ctx, "grant-old", "client-b", "sub-a", now.Add(time.Hour)); err != nil {
		t.Fatalf("PutGrant of a purged grant's id: %v, want it recorded afresh", err)
	}
	if client, gen, err := s.Grant(ctx, "grant-old", now); err != nil || client != "client-b" || gen != 0 {
		t.Fatalf("Grant = %q, %d, %v; want client-b, 0", client, gen, err)
	}
	if _, _, err := s.Grant(ctx, "grant-live", now); err != nil {
		t.Fatalf("a live grant was purged: %v", err)
	}
}

// testGrantRotateRace spends one refresh token many times at once on two
// handles: exactly one rotation wins; the first other caller finds the token
// used and revokes the grant, and those after it find the grant gone.
func testGrantRotateRace(t *testing.T, s, other store.Store) {
	ctx := t.Context()
	now := time.Now()
	if _, err := s.PutGrant(ctx, "grant-race", "client-a", "sub-a", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var wins, used atomic.Int32
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			st := s
			if i%2 == 1 {
				st = other
			}
			err := st.RotateGrant(ctx, "grant-race", 0, now.Add(2*time.Hour))
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, store.ErrUsed):
				used.Add(1)
			case !errors.Is(err, store.ErrNotFound):
				t.Errorf("RotateGrant: %v, want nil, ErrUsed or ErrNotFound", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 || used.Load() != 1 {
		t.Fatalf("%d callers rotated generation 0 and %d found it used, want 1 and 1", wins.Load(), used.Load())
	}
	if _, _, err := other.Grant(ctx, "grant-race", now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Grant = %v; want it revoked: one token spent twice", err)
	}
}

// testGrantsPerSubject: one subject keeps GrantsPerSubject live grants at a
// client, on either replica; one more ends the one that expires first (the
// least recently refreshed), never the new one and nobody else's, and says
// which; the ended row is purged once EndedGrantKept has passed.
func testGrantsPerSubject(t *testing.T, s, other store.Store) {
	ctx := t.Context()
	now := time.Now()
	replicas := []store.Store{s, other}
	put := func(st store.Store, id, client, subject string, expires time.Time) []string {
		t.Helper()
		ended, err := st.PutGrant(ctx, id, client, subject, expires)
		if err != nil {
			t.Fatalf("PutGrant %s: %v", id, err)
		}
		return ended
	}
	live := func(id string) bool {
		t.Helper()
		_, _, err := other.Grant(ctx, id, now)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}
	// Another client's grant for the same subject, and another subject's.
	put(s, "cap-client-b", "client-b", "sub-cap", now.Add(time.Hour))
	put(s, "cap-sub-b", "client-a", "sub-b", now.Add(time.Hour))
	for i := range store.GrantsPerSubject {
		if ended := put(replicas[i%2], fmt.Sprint("cap-", i), "client-a", "sub-cap", now.Add(time.Hour+time.Duration(i)*time.Minute)); len(ended) > 0 {
			t.Fatalf("grant %d of %d ended %v", i+1, store.GrantsPerSubject, ended)
		}
	}
	// The first one is refreshed: it now expires last.
	if err := other.RotateGrant(ctx, "cap-0", 0, now.Add(30*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	for i, st := range replicas {
		ended := put(st, fmt.Sprint("cap-new-", i), "client-a", "sub-cap", now.Add(20*24*time.Hour))
		gone := fmt.Sprint("cap-", i+1)
		if !slices.Equal(ended, []string{gone}) || live(gone) {
			t.Fatalf("grant %d past the cap ended %v; want %s, the one expiring first, ended", store.GrantsPerSubject+i+1, ended, gone)
		}
	}
	// A shorter refresh_token_ttl since: the new grant expires before all the
	// others, and is still not the one ended.
	if ended := put(s, "cap-short", "client-a", "sub-cap", now.Add(time.Minute)); !slices.Equal(ended, []string{"cap-3"}) {
		t.Fatalf("a grant expiring before the others ended %v; want cap-3", ended)
	}
	for _, id := range []string{"cap-short", "cap-0", "cap-4", fmt.Sprint("cap-", store.GrantsPerSubject-1), "cap-new-0", "cap-new-1", "cap-client-b", "cap-sub-b"} {
		if !live(id) {
			t.Fatalf("%s was revoked; only the subject's older grants at the client that expire first may be", id)
		}
	}
	// An ended grant's row stays for a replay of its code to be caught, then
	// goes with the purge: its id is then free again.
	if _, err := s.PutGrant(ctx, "cap-1", "client-a", "sub-cap", now.Add(time.Hour)); !errors.Is(err, store.ErrUsed) {
		t.Fatalf("the code of an ended grant, replayed at once: %v, want ErrUsed", err)
	}
	// Past EndedGrantKept from every write above (the store takes its own
	// clock at each), however long they took.
	if _, err := s.Purge(ctx, time.Now().Add(store.EndedGrantKept+time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutGrant(ctx, "cap-1", "client-x", "sub-x", now.Add(time.Hour)); err != nil {
		t.Fatalf("an ended grant's row outlived EndedGrantKept: %v", err)
	}
	if !live("cap-4") {
		t.Fatal("the purge took a live grant")
	}
	// Grants recorded before subjects were (none given) are not counted.
	for i := range store.GrantsPerSubject + 1 {
		put(replicas[i%2], fmt.Sprint("cap-unnamed-", i), "client-a", "", now.Add(time.Hour+time.Duration(i)*time.Minute))
	}
	if !live("cap-unnamed-0") {
		t.Fatal("a grant without a subject was revoked by the cap")
	}
}
