package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openLocal opens the SQLite file at path with consumed flows in memory.
func openLocal(t *testing.T, path string) (*localFlows, Store) {
	t.Helper()
	ctx := context.Background()
	raw, err := Open(ctx, "sqlite:"+path, Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	st, err := KeepFlowsInMemory(ctx, raw, raw, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	l, ok := st.(*localFlows)
	if !ok {
		t.Fatalf("store = %T, want flows in memory for SQLite", st)
	}
	return l, raw
}

// A flow is consumed once within a run, across a graceful restart, and a flow
// from before a graceful restart can still be finished once.
func TestLocalFlowsAcrossAGracefulRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "idplug.db")
	exp := time.Now().Add(10 * time.Minute)
	l, _ := openLocal(t, path)
	used, pending := l.NewFlowID(), l.NewFlowID()
	if err := l.ConsumeFlow(ctx, used, exp); err != nil {
		t.Fatal(err)
	}
	if err := l.ConsumeFlow(ctx, used, exp); !errors.Is(err, ErrUsed) {
		t.Fatalf("replay in the same run: err = %v, want ErrUsed", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.ConsumeFlow(ctx, pending, exp); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("after Close: err = %v, want ErrUnavailable (a consume now would be forgotten)", err)
	}

	l2, _ := openLocal(t, path)
	defer l2.Close()
	if l2.run <= l.run || l2.prev != l.run || l2.floor != l.floor {
		t.Fatalf("run %d floor %d after run %d floor %d: a graceful stop keeps the floor", l2.run, l2.floor, l.run, l.floor)
	}
	if err := l2.ConsumeFlow(ctx, used, exp); !errors.Is(err, ErrUsed) {
		t.Fatalf("replay after a graceful restart: err = %v, want ErrUsed", err)
	}
	if err := l2.ConsumeFlow(ctx, pending, exp); err != nil {
		t.Fatalf("a flow started before a graceful restart: %v", err)
	}
}

// After a run that never closed (a crash), every flow sealed before the new run
// is refused, finished or not; the new run's flows work.
func TestLocalFlowsAfterACrash(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "idplug.db")
	exp := time.Now().Add(10 * time.Minute)
	l, raw := openLocal(t, path)
	used, pending := l.NewFlowID(), l.NewFlowID()
	if err := l.ConsumeFlow(ctx, used, exp); err != nil {
		t.Fatal(err)
	}
	_ = raw.Close() // the file is let go without the run's end: a crash

	l2, _ := openLocal(t, path)
	defer l2.Close()
	for _, id := range []string{used, pending} {
		if err := l2.ConsumeFlow(ctx, id, exp); !errors.Is(err, ErrStale) {
			t.Errorf("%s after a crash: err = %v, want ErrStale", id, err)
		}
	}
	fresh := l2.NewFlowID()
	if err := l2.ConsumeFlow(ctx, fresh, exp); err != nil {
		t.Fatalf("a flow of the new run: %v", err)
	}
	if err := l2.ConsumeFlow(ctx, fresh, exp); !errors.Is(err, ErrUsed) {
		t.Fatalf("its replay: err = %v, want ErrUsed", err)
	}
	// The floor stays through the next graceful restart: the crash's flows are
	// still unknowable.
	if err := l2.Close(); err != nil {
		t.Fatal(err)
	}
	l3, _ := openLocal(t, path)
	defer l3.Close()
	if err := l3.ConsumeFlow(ctx, pending, exp); !errors.Is(err, ErrStale) {
		t.Fatalf("a pre-crash flow two runs later: err = %v, want ErrStale", err)
	}
}

// Memory holds the flows of one expiry window: buckets whose minute has passed
// are dropped, and expired ids are neither saved nor read back.
func TestLocalFlowsAreBoundedByExpiry(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "idplug.db")
	l, _ := openLocal(t, path)
	clock := time.Now()
	l.now = func() time.Time { return clock }
	for range 100 {
		if err := l.ConsumeFlow(ctx, l.NewFlowID(), clock.Add(2*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	keep, keepExp := l.NewFlowID(), clock.Add(time.Hour)
	if err := l.ConsumeFlow(ctx, keep, keepExp); err != nil {
		t.Fatal(err)
	}
	if n := l.consumedInMemory(); n != 101 {
		t.Fatalf("held %d, want 101", n)
	}
	clock = clock.Add(4 * time.Minute)
	if err := l.ConsumeFlow(ctx, l.NewFlowID(), clock.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := l.consumedInMemory(); n != 2 {
		t.Fatalf("held %d after the first 100 expired, want 2", n)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2, _ := openLocal(t, path)
	defer l2.Close()
	if n := l2.consumedInMemory(); n != 2 {
		t.Fatalf("read back %d, want the 2 unexpired", n)
	}
	if err := l2.ConsumeFlow(ctx, keep, keepExp); !errors.Is(err, ErrUsed) {
		t.Fatalf("err = %v, want ErrUsed", err)
	}
}

// Ids that name no run (the OpenID Provider's private_key_jwt assertion ids,
// hex digests; flows sealed before runs were counted) used to be read as run
// 0: after one unclean stop every such id was ErrStale, and every
// private_key_jwt client authentication failed with a server_error, in every
// later run too. They are now consumed in the file as they come, so a crash
// loses none: each is accepted once, and its replay is ErrUsed, across
// crashes and graceful restarts alike.
func TestLocalFlowsIdsWithoutARunStaySingleUseAcrossCrashes(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "idplug.db")
	exp := time.Now().Add(10 * time.Minute)
	const before, after = "5e1f0c2b9a7d-assertion-before", "0a9b8c7d6e5f-assertion-after"
	l, raw := openLocal(t, path)
	if err := l.ConsumeFlow(ctx, before, exp); err != nil {
		t.Fatal(err)
	}
	_ = raw.Close() // a crash

	l2, raw2 := openLocal(t, path)
	if l2.floor != l2.run {
		t.Fatalf("floor %d in run %d: the crash did not raise it", l2.floor, l2.run)
	}
	if err := l2.ConsumeFlow(ctx, after, exp); err != nil {
		t.Fatalf("an id without a run after a crash: %v, want it accepted", err)
	}
	for _, id := range []string{before, after} {
		if err := l2.ConsumeFlow(ctx, id, exp); !errors.Is(err, ErrUsed) {
			t.Errorf("replay of %s after a crash: %v, want ErrUsed", id, err)
		}
	}
	if n := l2.consumedInMemory(); n != 0 {
		t.Errorf("%d ids without a run held in memory, want them in the file only", n)
	}
	_ = raw2.Close() // and another crash

	l3, _ := openLocal(t, path)
	defer l3.Close()
	for _, id := range []string{before, after} {
		if err := l3.ConsumeFlow(ctx, id, exp); !errors.Is(err, ErrUsed) {
			t.Errorf("replay of %s after a second crash: %v, want ErrUsed", id, err)
		}
	}
	if err := l3.ConsumeFlow(ctx, "fresh-assertion", exp); err != nil {
		t.Fatalf("a fresh id without a run: %v", err)
	}
}

// Only what NewFlowID makes names a run.
func TestRunOf(t *testing.T) {
	for id, want := range map[string]int64{
		"r7.abc": 7, "r12.x": 12,
		"r0.abc": -1, "r-1.abc": -1, "r+1.abc": -1, "r.abc": -1, "r7.": -1, "r7": -1, "rx.abc": -1,
		"legacy": -1, "5e1f0c2b9a7d": -1, "": -1,
	} {
		run, ok := runOf(id)
		if !ok {
			run = -1
		}
		if run != want {
			t.Errorf("runOf(%q) = %d, %v; want %d", id, run, ok, want)
		}
	}
}

// Flows in memory are single-use only while one process finishes the file's
// flows: a second store keeping them for the same file (another idplug serve)
// is refused, and the file is free again once the first closes or crashes.
func TestOneProcessKeepsAFilesFlows(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "idplug.db")
	keep := func() (Store, Store, error) {
		raw, err := Open(ctx, "sqlite:"+path, Options{Migrate: true})
		if err != nil {
			t.Fatal(err)
		}
		st, err := KeepFlowsInMemory(ctx, raw, raw, 5*time.Second)
		if err != nil {
			raw.Close()
		}
		return raw, st, err
	}
	_, first, err := keep()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := keep(); err == nil || !strings.Contains(err.Error(), "in use by another idplug process") {
		t.Fatalf("a second store keeping the file's flows: %v; want it refused", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	raw, _, err := keep()
	if err != nil {
		t.Fatalf("once the first has closed: %v", err)
	}
	_ = raw.Close() // the file let go without the run's end: a crash
	_, last, err := keep()
	if err != nil {
		t.Fatalf("after a crash: %v", err)
	}
	last.Close()
}

// idplug serve takes the file at open (Options.OneProcess), before its
// migrations run: a second serve is refused before it changes a database the
// first one serves. The lock is a file of its own: a descriptor of the
// database closed would drop every lock SQLite holds on it in this process.
func TestOneProcessIsTakenBeforeMigrations(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "idplug.db")
	first, err := Open(ctx, "sqlite:"+path, Options{Migrate: true, OneProcess: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, "sqlite:"+path, Options{Migrate: true, OneProcess: true}); err == nil ||
		!strings.Contains(err.Error(), "in use by another idplug process") {
		t.Fatalf("a second open for one process: %v; want it refused at open", err)
	}
	db, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := unix.Flock(int(db.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Errorf("the database file itself is locked: %v", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := Open(ctx, "sqlite:"+path, Options{Migrate: true, OneProcess: true})
	if err != nil {
		t.Fatalf("once the first closed: %v", err)
	}
	again.Close()
}

// A database restored from a backup does not know the flows finished after
// the backup: a run after the restore must not take them for its own or an
// earlier run's. Runs were counted, so the first run after the restore had
// the number of the first run after the backup, and finished its flows again.
func TestRestoredDatabaseRefusesTheLostRunsFlows(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "idplug.db")
	exp := time.Now().Add(10 * time.Minute)
	l, _ := openLocal(t, path)
	before := l.NewFlowID() // a flow of the run the backup knows, started and not finished
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	backup, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lost, _ := openLocal(t, path) // the run after the backup, lost with the restore
	finished := lost.NewFlowID()
	if err := lost.ConsumeFlow(ctx, finished, exp); err != nil {
		t.Fatal(err)
	}
	if err := lost.Close(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, backup, 0o600); err != nil {
		t.Fatal(err)
	}
	restored, _ := openLocal(t, path)
	defer restored.Close()
	if err := restored.ConsumeFlow(ctx, finished, exp); !errors.Is(err, ErrStale) {
		t.Errorf("a flow the lost run finished, after the restore: %v; want ErrStale", err)
	}
	if err := restored.ConsumeFlow(ctx, before, exp); err != nil {
		t.Errorf("a flow of the run the backup knows: %v", err)
	}
	if own := restored.NewFlowID(); restored.ConsumeFlow(ctx, own, exp) != nil {
		t.Error("the restored run's own flow was refused")
	}
}

// A second process given a link to the same database file is refused, as one
// given the file's own path is; and should two stores keep one file's flows
// all the same (a hard link), neither takes the other's flows.
func TestOneProcessThroughALink(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "idplug.db")
	first, err := Open(ctx, "sqlite:"+path, Options{Migrate: true, OneProcess: true})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	link := filepath.Join(dir, "current.db")
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	if second, err := Open(ctx, "sqlite:"+link, Options{Migrate: true, OneProcess: true}); err == nil {
		second.Close()
		t.Fatal("a second store through a link to the database was not refused")
	} else if !strings.Contains(err.Error(), "in use by another idplug process") {
		t.Fatalf("the refusal: %v", err)
	}

	// Should two stores keep one file's flows all the same (SQLite refuses a
	// hard link's second name while the first is open, but a bind mount of
	// the file alone could do it), the later one's runs are after the
	// earlier's, which takes no flow of a run after its own.
	l, ok := mustLocal(t, first).(*localFlows)
	if !ok {
		t.Fatal("no flows in memory")
	}
	later := "r" + strconv.FormatInt(l.run+5, 10) + ".a-flow-of-a-later-run"
	if err := l.ConsumeFlow(ctx, later, time.Now().Add(10*time.Minute)); !errors.Is(err, ErrStale) {
		t.Errorf("a flow of a later run: %v; want ErrStale", err)
	}
}

func mustLocal(t *testing.T, st Store) Store {
	t.Helper()
	l, err := KeepFlowsInMemory(context.Background(), st, st, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return l
}
