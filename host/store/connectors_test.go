package store_test

import (
	"maps"
	"testing"
	"time"

	"github.com/idplug/idplug/host/store"
)

// testConnectors: a connector missing from a list that had it is removed at
// that list's time, on every handle of the database; one that comes back keeps
// its removal time; an empty list removes every one.
func testConnectors(t *testing.T, s, other store.Store) {
	ctx := t.Context()
	t0 := time.UnixMilli(1_700_000_000_000)
	set := func(st store.Store, at time.Time, ids ...string) map[string]int64 {
		t.Helper()
		removed, err := st.ConnectorsConfigured(ctx, ids, at)
		if err != nil {
			t.Fatal(err)
		}
		return removed
	}
	want := func(what string, got, want map[string]int64) {
		t.Helper()
		if !maps.Equal(got, want) {
			t.Fatalf("%s: removed %v, want %v", what, got, want)
		}
	}
	want("first list", set(s, t0, "acme", "github"), map[string]int64{})
	want("the same list", set(other, t0.Add(time.Second), "github", "acme"), map[string]int64{})
	t1 := t0.Add(2 * time.Second)
	want("acme removed, on the other handle", set(other, t1, "github"), map[string]int64{"acme": t1.UnixMilli()})
	want("acme back", set(s, t0.Add(3*time.Second), "acme", "github"), map[string]int64{"acme": t1.UnixMilli()})
	t4 := t0.Add(4 * time.Second)
	want("everything removed", set(s, t4), map[string]int64{"acme": t4.UnixMilli(), "github": t4.UnixMilli()})
	// Removed already: a list without it again does not move its time.
	want("still none", set(other, t0.Add(5*time.Second)), map[string]int64{"acme": t4.UnixMilli(), "github": t4.UnixMilli()})
	// Ids are data: quotes, commas and JSON in an id are the id.
	odd := `a"b,c]`
	set(s, t0.Add(6*time.Second), odd, "acme")
	t7 := t0.Add(7 * time.Second)
	want("the odd id removed", set(other, t7, "acme"), map[string]int64{odd: t7.UnixMilli(), "acme": t4.UnixMilli(), "github": t4.UnixMilli()})
}
