// Package ratelimit counts failures per client (an address, a client id) and
// refuses a client past a number of them in a window, with bounded memory: the
// brake on guessing API keys and client secrets.
package ratelimit

import (
	"net"
	"net/netip"
	"sync"
	"time"
)

// Failures counts failed checks per key (a client address, a client id). Past maxFailures
// in a window, the address is refused until the window ends, before its key is even
// looked at: a brute-force gets a few guesses a minute. Memory is bounded: at most
// maxAddrs keys are tracked; when they are all taken (by expired windows that
// are swept first, then live ones), a new address is not counted until a window
// ends. It is not refused either: a window shared by every new address would
// let one attacker with a few thousand addresses (an IPv6 /52) lock every new
// client out, and what the limiter guards (API keys, client secrets) is 32
// random bytes or more, with nothing to guess from many addresses.
type Failures struct {
	maxFailures int
	window      time.Duration
	maxAddrs    int
	now         func() time.Time

	mu        sync.Mutex
	addrs     map[string]*failureWindow
	lastSweep time.Time
}

type failureWindow struct {
	start    time.Time
	failures int
}

func New(maxFailures int, window time.Duration, maxAddrs int) *Failures {
	return &Failures{maxFailures: maxFailures, window: window, maxAddrs: maxAddrs, now: time.Now,
		addrs: map[string]*failureWindow{}}
}

// Blocked reports whether addr is refused now, and for how long.
func (l *Failures) Blocked(addr string) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fw := l.lookup(addr, false)
	if fw == nil || fw.failures < l.maxFailures {
		return 0, false
	}
	left := fw.start.Add(l.window).Sub(l.now())
	if left <= 0 {
		return 0, false
	}
	return left, true
}

// Fail counts one failure for addr, unless the table is full.
func (l *Failures) Fail(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fw := l.lookup(addr, true)
	if fw == nil {
		return
	}
	if now := l.now(); now.Sub(fw.start) >= l.window {
		*fw = failureWindow{start: now}
	}
	fw.failures++
}

// Tracked is how many keys have an entry.
func (l *Failures) Tracked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.addrs)
}

// lookup finds addr's window; with create, it makes one, unless the table is
// full (nil then).
func (l *Failures) lookup(addr string, create bool) *failureWindow {
	if fw, ok := l.addrs[addr]; ok {
		return fw
	}
	if !create {
		return nil
	}
	if len(l.addrs) >= l.maxAddrs {
		l.sweep()
	}
	if len(l.addrs) >= l.maxAddrs {
		return nil
	}
	fw := &failureWindow{start: l.now()}
	l.addrs[addr] = fw
	return fw
}

// sweep drops the windows that are over, at most once a second: under a spread-out
// attack the table stays full, and every lookup would walk it.
func (l *Failures) sweep() {
	now := l.now()
	if now.Sub(l.lastSweep) < time.Second {
		return
	}
	l.lastSweep = now
	for a, fw := range l.addrs {
		if now.Sub(fw.start) >= l.window {
			delete(l.addrs, a)
		}
	}
}

// ClientAddr is the address a request came from, without its port. An IPv6
// client counts by its /64, the block one host is usually given: counted by
// address, it would have 2^64 fresh windows.
func ClientAddr(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	if b := ClientBlock(addr); b.Addr().Is6() {
		return b.String()
	}
	return addr.Unmap().String()
}

// ClientBlock is the block a client address counts by: an IPv4 address
// alone, an IPv6 one by its /64.
func ClientBlock(addr netip.Addr) netip.Prefix {
	addr = addr.Unmap()
	bits := 32
	if addr.Is6() {
		bits = 64
	}
	p, _ := addr.Prefix(bits)
	return p
}

// SetClock replaces the clock, for tests and benchmarks that must not see time pass.
func (l *Failures) SetClock(now func() time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.now = now
}
