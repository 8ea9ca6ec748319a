package connlimit

import (
	"io"
	"net"
	"runtime"
	"testing"
	"time"
)

// A kept-alive connection receiving its next request's headers keeps its slot.
// net/http reports StateActive only once they are all read, and until then the
// connection had counted as idle: closed to make room, it lost the request
// under way (a POST, such as an app's /token call, is not retried). A byte
// read now marks it busy.

// readSignalListener tells, on read, that the server has read bytes of a
// connection.
type readSignalListener struct {
	net.Listener
	read chan struct{}
}

func (r *readSignalListener) Accept() (net.Conn, error) {
	c, err := r.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &readSignalConn{Conn: c, read: r.read}, nil
}

type readSignalConn struct {
	net.Conn
	read chan struct{}
}

func (c *readSignalConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		select {
		case c.read <- struct{}{}:
		default:
		}
	}
	return n, err
}

func TestNextRequestUnderWayKeepsItsSlot(t *testing.T) {
	var inner *readSignalListener
	s := serveOn(t, Options{Max: 1}, func(lis net.Listener) net.Listener {
		inner = &readSignalListener{Listener: lis, read: make(chan struct{}, 1)}
		return inner
	})
	l, addr, idle := s.l, s.addr, s.idle

	a := dial(t, addr)
	if err := get(t, a, "/"); err != nil {
		t.Fatal(err)
	}
	<-idle
	for len(inner.read) > 0 {
		<-inner.read
	}
	// a's next request is under way: its request line and a header are sent
	// and read by the server; the rest is on its way.
	if _, err := io.WriteString(a, "POST /token HTTP/1.1\r\nHost: x\r\n"); err != nil {
		t.Fatal(err)
	}
	<-inner.read

	b := dial(t, addr)
	if _, err := io.WriteString(b, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	// Either Accept waits for a slot (a kept it) or it closed a to make room.
	deadline := time.Now().Add(30 * time.Second) // only ends a hung test
	for !l.waiting.Load() && l.Reclaimed() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("Accept neither waited nor reclaimed")
		}
		runtime.Gosched()
	}
	if l.Reclaimed() != 0 {
		t.Fatalf("a kept-alive connection half way through sending its request's headers was closed to make room (Reclaimed() = %d): its POST is lost", l.Reclaimed())
	}
	if _, err := io.WriteString(a, "Content-Length: 0\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if err := readAnswer(a); err != nil {
		t.Fatalf("the request under way: %v", err)
	}
}

// A kept-alive connection that sends one byte of its next request and no more
// is busy (not to be reclaimed), so its headers get HeaderTimeout: net/http
// waits for a request's first bytes under its IdleTimeout, and one byte per
// connection had held every slot that long.
func TestOneByteStartsTheHeaderTimeout(t *testing.T) {
	s := serveWith(t, Options{Max: 1, HeaderTimeout: time.Second})
	idle := s.idle

	a := dial(t, s.addr)
	if err := get(t, a, "/"); err != nil {
		t.Fatal(err)
	}
	<-idle
	if _, err := io.WriteString(a, "G"); err != nil {
		t.Fatal(err)
	}
	if !closedByServer(a) { // within its 30 s bound, not the idle timeout's hour
		t.Fatal("a kept-alive connection that sent one byte of a request was not closed after the header timeout")
	}
}
