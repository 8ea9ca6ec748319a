package main

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

// A connector can write to the bridge's socket itself (fd 3): three answers to
// one call blocked the plugin's reader on the call's one-slot channel, and no
// answer reached any other call until the plugin restarted.
func TestDuplicateAnswersDoNotWedgeTheReader(t *testing.T) {
	plugin, node := net.Pipe()
	t.Cleanup(func() { _ = plugin.Close(); _ = node.Close() })
	p := &nodeProc{conn: plugin, pending: map[uint64]chan answer{}, dead: make(chan struct{})}
	first, other := make(chan answer, 1), make(chan answer, 1)
	p.pending[1], p.pending[2] = first, other
	go p.read(make(chan answer, 1))
	go func() {
		_, _ = node.Write([]byte("{\"id\":0}\n{\"id\":1}\n{\"id\":1}\n{\"id\":1}\n{\"id\":2,\"result\":{}}\n"))
	}()
	select {
	case a := <-other:
		if a.ID != 2 {
			t.Fatalf("answer %+v", a)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the other call's answer never came: the reader is stuck on a duplicate")
	}
	if a := <-first; a.ID != 1 {
		t.Fatalf("the first call got %+v", a)
	}
}

// Starts are one at a time (each checks the whole bundle and boots Node): a call
// waits for its turn only until its own deadline, and a call whose time ran out
// starts nothing. (The bridge here has no bundle: a start would panic.)
func TestStartsWaitOnlyUntilTheCallsDeadline(t *testing.T) {
	b := &bridge{}
	b.startingOnce.Do(func() { b.starting = make(chan struct{}, 1) })
	b.starting <- struct{}{} // another call's start, in progress
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	began := time.Now()
	if _, err := b.proc(ctx); err == nil || !strings.Contains(err.Error(), "still starting") {
		t.Fatalf("err = %v", err)
	}
	if waited := time.Since(began); waited > 5*time.Second {
		t.Fatalf("the call waited %s behind another's start, past its deadline", waited)
	}
	<-b.starting // that start is over
	if _, err := b.proc(ctx); err == nil || !strings.Contains(err.Error(), "still starting") {
		t.Fatalf("a call past its deadline: %v", err)
	}
}
