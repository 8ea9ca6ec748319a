package main

import (
	"net"
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
