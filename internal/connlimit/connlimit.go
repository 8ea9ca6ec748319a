// Package connlimit caps the connections an HTTP listener holds open at once.
//
// x/net/netutil.LimitListener counts a kept-alive connection that waits
// between requests like one being served, so one client that opens the cap's
// worth of connections and leaves them idle locks every other client out for
// the server's IdleTimeout, renewed by a request now and then. Here a client
// that arrives while every slot is taken gets the slot of the connection idle
// the longest, which is closed: HTTP lets a server close an idle connection at
// any time, and clients open a new one. Connections in the middle of a request,
// or not yet through their first one (bounded by ReadHeaderTimeout), keep
// their slots; a newcomer waits for one of them to end or to fall idle.
package connlimit

import (
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Listener is a net.Listener holding at most a number of connections open.
// Its ConnState method must be the http.Server's ConnState hook, which is how
// it knows which connections are idle.
type Listener struct {
	net.Listener
	max int

	mu       sync.Mutex
	conns    map[*conn]struct{}
	reclaims atomic.Int64

	waiting atomic.Bool   // Accept holds a client and no slot is free
	wake    chan struct{} // a slot freed or a connection fell idle (cap 1)
	done    chan struct{} // closed by Close
	once    sync.Once
}

// New caps l at n open connections (at least 1).
func New(l net.Listener, n int) *Listener {
	n = max(n, 1)
	return &Listener{
		Listener: l,
		max:      n,
		conns:    make(map[*conn]struct{}, n),
		wake:     make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
}

// Accept takes the next connection from the kernel, then gives it a slot: a
// free one, or that of the connection idle the longest, which is closed. With
// every connection busy, it waits until one ends or falls idle.
func (l *Listener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	c := &conn{Conn: nc, l: l}
	for {
		l.mu.Lock()
		if len(l.conns) < l.max {
			l.conns[c] = struct{}{}
			l.mu.Unlock()
			return c, nil
		}
		victim := l.longestIdle()
		if victim == nil {
			l.waiting.Store(true)
		}
		l.mu.Unlock()
		if victim != nil {
			l.reclaims.Add(1)
			_ = victim.Close() // frees its slot at once
			continue
		}
		select {
		case <-l.wake:
		case <-l.done:
			l.waiting.Store(false)
			_ = nc.Close()
			return nil, net.ErrClosed
		}
		l.waiting.Store(false)
	}
}

// longestIdle returns the connection idle the longest, or nil. l.mu is held.
func (l *Listener) longestIdle() *conn {
	var oldest *conn
	var since int64
	for c := range l.conns {
		if t := c.idleSince.Load(); t != 0 && (oldest == nil || t < since) {
			oldest, since = c, t
		}
	}
	if oldest != nil {
		// Taken out now, so that a second Accept cannot pick it too.
		delete(l.conns, oldest)
		oldest.idleSince.Store(0)
	}
	return oldest
}

// ConnState is the http.Server's ConnState hook: it marks connections idle
// between requests and busy while one is read or served.
func (l *Listener) ConnState(nc net.Conn, state http.ConnState) {
	c, ok := nc.(*conn)
	if !ok || c.l != l {
		return
	}
	switch state {
	case http.StateIdle:
		c.idleSince.Store(time.Now().UnixNano())
		if l.waiting.Load() {
			l.signal()
		}
	default:
		c.idleSince.Store(0)
	}
}

// Reclaimed is how many idle connections were closed to make room.
func (l *Listener) Reclaimed() int64 { return l.reclaims.Load() }

// Close closes the listener; an Accept waiting for a slot returns.
func (l *Listener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

func (l *Listener) signal() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

func (l *Listener) release(c *conn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
	l.signal()
}

// conn frees its slot when it is closed, by the server or to make room.
type conn struct {
	net.Conn
	l         *Listener
	idleSince atomic.Int64 // unix nanoseconds since the connection fell idle; 0 while busy
	closeOnce sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.closeOnce.Do(func() { c.l.release(c) })
	return err
}
