// Package connlimit caps the connections an HTTP listener holds open at once,
// in all and for each client address.
//
// x/net/netutil.LimitListener counts a kept-alive connection that waits
// between requests like one being served, so one client that opens the cap's
// worth of connections and leaves them idle locks every other client out for
// the server's IdleTimeout, renewed by a request now and then. Here a client
// that arrives while every slot is taken gets the slot of the connection idle
// the longest, which is closed: HTTP lets a server close an idle connection at
// any time, and clients open a new one. A connection that has received any
// byte of a request since it was last idle, or is not yet through its first
// one, keeps its slot (the server's timeouts bound how long); a newcomer waits
// for one to end or to fall idle.
//
// Busy connections a client keeps open on purpose (a body announced and never
// sent, a response never read) are bounded by the server's timeouts only, so
// once the listener holds half its connections, an address holding
// PerAddress gets no more: its own longest idle connection makes room, or the
// new connection is closed at once. Below half, one address may hold more: a
// NAT or a load balancer that is not declared, carrying many clients, is not
// refused while there is room.
package connlimit

import (
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/idplug/idplug/internal/ratelimit"
)

// Options are the caps of a Listener.
type Options struct {
	// Max is how many connections the listener holds open at once (at least 1).
	Max int
	// PerAddress is how many one client address may hold (an IPv6 client by
	// its /64) once the listener holds half of Max; 0 for no cap of its own.
	PerAddress int
	// HeaderTimeout, when set, bounds how long a kept-alive connection that
	// starts its next request may take over the request's first bytes:
	// net/http waits for them under its IdleTimeout, and a connection that
	// sent one byte is busy, no longer idle to reclaim. Once it has four,
	// net/http gives the rest of the headers its ReadHeaderTimeout: up to
	// twice HeaderTimeout in all, when the two are the same.
	HeaderTimeout time.Duration
	// Exempt, when set, names peer addresses PerAddress does not apply to:
	// the operator's reverse proxies, which carry every client's connections.
	Exempt func(netip.Addr) bool
}

// Listener is a net.Listener holding a number of connections open at most.
// Its ConnState method must be the http.Server's ConnState hook, which is how
// it knows which connections are idle.
type Listener struct {
	net.Listener
	opts Options

	mu     sync.Mutex
	conns  map[*conn]struct{}
	byAddr map[netip.Prefix]int

	reclaims atomic.Int64
	refusals atomic.Int64
	waiting  atomic.Bool // Accept waits for a slot (tests watch it)

	wake chan struct{} // a slot freed or a connection fell idle (cap 1)
	done chan struct{} // closed by Close
	once sync.Once
}

// New caps l as opts say.
func New(l net.Listener, opts Options) *Listener {
	opts.Max = max(opts.Max, 1)
	return &Listener{
		Listener: l,
		opts:     opts,
		conns:    make(map[*conn]struct{}, opts.Max),
		byAddr:   map[netip.Prefix]int{},
		wake:     make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
}

// Accept takes the next connection from the kernel, then gives it a slot: a
// free one, or that of the connection idle the longest, which is closed. With
// every connection busy, it waits until one ends or falls idle. With half of
// Max taken, a connection from an address that holds PerAddress busy ones is
// closed, and the next taken.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		c, err := l.admit(nc)
		if c != nil || err != nil {
			return c, err
		}
		l.refusals.Add(1)
		_ = nc.Close()
	}
}

// admit finds nc a slot; nil when its address holds too many busy ones.
func (l *Listener) admit(nc net.Conn) (net.Conn, error) {
	c := &conn{Conn: nc, l: l, addr: l.addressOf(nc)}
	for {
		l.mu.Lock()
		if c.addr.IsValid() && l.byAddr[c.addr] >= l.opts.PerAddress && 2*len(l.conns) >= l.opts.Max {
			victim := l.longestIdle(func(o *conn) bool { return o.addr == c.addr })
			l.mu.Unlock()
			if victim == nil {
				return nil, nil
			}
			l.reclaim(victim)
			continue
		}
		if len(l.conns) < l.opts.Max {
			l.conns[c] = struct{}{}
			if c.addr.IsValid() {
				l.byAddr[c.addr]++
			}
			l.mu.Unlock()
			return c, nil
		}
		victim := l.longestIdle(nil)
		l.mu.Unlock()
		if victim != nil {
			l.reclaim(victim)
			continue
		}
		// Woken by any slot freed or connection fallen idle since the scan:
		// ConnState signals every fall, so none is missed.
		l.waiting.Store(true)
		select {
		case <-l.wake:
			l.waiting.Store(false)
		case <-l.done:
			l.waiting.Store(false)
			_ = nc.Close()
			return nil, net.ErrClosed
		}
	}
}

// addressOf is the key nc counts under for PerAddress; the zero Prefix when
// it is not counted.
func (l *Listener) addressOf(nc net.Conn) netip.Prefix {
	if l.opts.PerAddress <= 0 {
		return netip.Prefix{}
	}
	ap, err := netip.ParseAddrPort(nc.RemoteAddr().String())
	if err != nil {
		return netip.Prefix{}
	}
	a := ap.Addr().Unmap()
	if l.opts.Exempt != nil && l.opts.Exempt(a) {
		return netip.Prefix{}
	}
	return ratelimit.ClientBlock(a)
}

// longestIdle takes out the connection idle the longest among those match
// allows (all, when nil), or returns nil. l.mu is held.
func (l *Listener) longestIdle(match func(*conn) bool) *conn {
	for {
		var oldest *conn
		var since int64
		for c := range l.conns {
			if t := c.idleSince.Load(); t != 0 && (oldest == nil || t < since) && (match == nil || match(c)) {
				oldest, since = c, t
			}
		}
		if oldest == nil {
			return nil
		}
		// Claimed only if it is still idle: a request that began since (its
		// first byte read) keeps its connection. Taken out now, so that no
		// other Accept can pick it too.
		if oldest.idleSince.CompareAndSwap(since, 0) {
			l.forget(oldest)
			return oldest
		}
	}
}

// reclaim closes an idle connection longestIdle took out, freeing its slot.
func (l *Listener) reclaim(c *conn) {
	l.reclaims.Add(1)
	_ = c.Close()
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
		// Always: an Accept that scanned before this store and waits after
		// it would otherwise miss it. A signal nobody waits for costs one
		// more scan at most.
		l.signal()
	default:
		c.idleSince.Store(0)
	}
}

// Reclaimed is how many idle connections were closed to make room.
func (l *Listener) Reclaimed() int64 { return l.reclaims.Load() }

// Refused is how many connections were closed at once because their address
// held PerAddress busy ones while the listener held half of Max.
func (l *Listener) Refused() int64 { return l.refusals.Load() }

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

// forget frees c's slot. l.mu is held.
func (l *Listener) forget(c *conn) {
	if _, ok := l.conns[c]; !ok {
		return
	}
	delete(l.conns, c)
	if c.addr.IsValid() {
		if l.byAddr[c.addr]--; l.byAddr[c.addr] <= 0 {
			delete(l.byAddr, c.addr)
		}
	}
}

func (l *Listener) release(c *conn) {
	l.mu.Lock()
	l.forget(c)
	l.mu.Unlock()
	l.signal()
}

// conn frees its slot when it is closed, by the server or to make room.
type conn struct {
	net.Conn
	l         *Listener
	addr      netip.Prefix // its key under PerAddress; zero when not counted
	idleSince atomic.Int64 // unix nanoseconds since the connection fell idle; 0 while busy
	closeOnce sync.Once
}

// Read marks the connection busy as soon as a byte of its next request
// arrives: the server says so (StateActive) only once the request's headers
// are all read, and one closed before would lose the request. The headers
// then have HeaderTimeout, as a first request's have; net/http sets its own
// deadline once it has the request's first bytes.
func (c *conn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		if t := c.idleSince.Load(); t != 0 && c.idleSince.CompareAndSwap(t, 0) {
			if d := c.l.opts.HeaderTimeout; d > 0 {
				_ = c.Conn.SetReadDeadline(time.Now().Add(d))
			}
		}
	}
	return n, err
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.closeOnce.Do(func() { c.l.release(c) })
	return err
}
