package connlimit

import (
	"bytes"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

// A connection that falls idle while Accept scans for one must wake it: Accept
// had set "waiting" only after its scan, and ConnState signalled only when it
// saw it set, so a connection falling idle between the two was neither taken
// nor signalled. Accept then parked with an idle connection it could take, and
// the listener let no one in until another connection changed state (with
// kept-alive clients, the 2 minutes of the idle timeout, renewed by any
// request). ConnState now signals every fall.
//
// The listener holds many busy fake connections so that Accept's scan lasts
// long enough for ConnState to land inside it; the verdict is not a timeout:
// the Accept goroutine is seen parked in its select (in the goroutine dump)
// while l.wake is empty and a connection is idle in its slot.

type fakeConn struct{ net.Conn }

func (fakeConn) Close() error { return nil }

type fakeListener struct {
	ch   chan net.Conn
	done chan struct{}
}

func (f *fakeListener) Accept() (net.Conn, error) {
	select {
	case c := <-f.ch:
		return c, nil
	case <-f.done:
		return nil, net.ErrClosed
	}
}
func (f *fakeListener) Close() error   { close(f.done); return nil }
func (f *fakeListener) Addr() net.Addr { return &net.TCPAddr{} }

// acceptParkedInSelect reports whether the goroutine running Accept is parked
// in its select.
func acceptParkedInSelect() bool {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		s := string(g)
		if strings.Contains(s, "connlimit.(*Listener).Accept(") && strings.Contains(strings.SplitN(s, "\n", 2)[0], "[select") {
			return true
		}
	}
	return false
}

func TestIdleDuringAcceptsScanIsNotLost(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("needs two Ps to run ConnState during Accept's scan")
	}
	const n = 20000
	fl := &fakeListener{ch: make(chan net.Conn, 1), done: make(chan struct{})}
	l := New(fl, Options{Max: n})
	defer l.Close()
	busy := make([]*conn, 0, n)
	for range n {
		fl.ch <- fakeConn{}
		c, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		busy = append(busy, c.(*conn))
	}
	for trial := range 200 {
		select { // a stale signal from the last trial's reclaim
		case <-l.wake:
		default:
		}
		x := busy[trial]
		fl.ch <- fakeConn{}
		res := make(chan error, 1)
		go func() {
			_, err := l.Accept()
			res <- err
		}()
		// Wait until Accept holds l.mu, i.e. is scanning the connections (a
		// trial whose scan ends first proves nothing, and goes on).
		for !l.waiting.Load() && l.mu.TryLock() {
			l.mu.Unlock()
		}
		l.ConnState(x, http.StateIdle)               // x finishes its request meanwhile
		deadline := time.Now().Add(30 * time.Second) // only ends a hung test
		for {
			select {
			case err := <-res:
				if err != nil {
					t.Fatal(err)
				}
				goto next
			default:
			}
			l.mu.Lock()
			_, held := l.conns[x]
			idle := x.idleSince.Load() != 0
			l.mu.Unlock()
			if held && idle && len(l.wake) == 0 && l.waiting.Load() && acceptParkedInSelect() {
				t.Fatalf("trial %d: lost wake-up: Accept is parked waiting for a slot while a connection is idle "+
					"in its slot and nothing will signal (the listener accepts no one until another connection changes state)", trial)
			}
			if time.Now().After(deadline) {
				t.Fatal("Accept neither returned nor parked")
			}
			runtime.Gosched()
		}
	next:
	}
	t.Log("no lost wake-up seen in 200 trials")
}
