package connlimit

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"testing"
	"time"
)

// served is a real http.Server on a loopback listener capped at n: /block
// holds its request until release is closed; every other path answers at once.
// idle receives each connection the server marks idle.
type served struct {
	addr    string
	l       *Listener
	release chan struct{}
	entered chan struct{}
	idle    chan net.Conn
	srv     *http.Server
}

func serve(t *testing.T, n int) *served {
	t.Helper()
	return serveWith(t, Options{Max: n})
}

func serveWith(t *testing.T, opts Options) *served {
	t.Helper()
	return serveOn(t, opts, func(l net.Listener) net.Listener { return l })
}

// serveOn is serveWith over the listener wrap makes of the loopback one. The
// server's header timeout is opts.HeaderTimeout when set, else a minute.
func serveOn(t *testing.T, opts Options, wrap func(net.Listener) net.Listener) *served {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	headerTimeout := time.Minute
	if opts.HeaderTimeout > 0 {
		headerTimeout = opts.HeaderTimeout
	}
	s := &served{
		addr:    lis.Addr().String(),
		l:       New(wrap(lis), opts),
		release: make(chan struct{}),
		entered: make(chan struct{}, 8),
		idle:    make(chan net.Conn, 16),
	}
	s.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/block" {
				s.entered <- struct{}{}
				<-s.release
			}
			_, _ = io.WriteString(w, "ok")
		}),
		ReadHeaderTimeout: headerTimeout,
		IdleTimeout:       time.Hour, // only the cap closes idle connections here
		ConnState: func(c net.Conn, st http.ConnState) {
			s.l.ConnState(c, st)
			if st == http.StateIdle {
				select {
				case s.idle <- c:
				default: // a test that reads no more of them
				}
			}
		},
	}
	done := make(chan error, 1)
	go func() { done <- s.srv.Serve(s.l) }()
	t.Cleanup(func() {
		select {
		case <-s.release:
		default:
			close(s.release)
		}
		_ = s.srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return s
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	return dialFrom(t, "127.0.0.1", addr)
}

// dialFrom connects to addr from the loopback address from (127.0.0.2...),
// a client address of its own.
func dialFrom(t *testing.T, from, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// get sends GET path on c, keeping it alive, and reads the answer; the bound
// only ends a test that would otherwise hang.
func get(t *testing.T, c net.Conn, path string) error {
	t.Helper()
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return err
	}
	return readAnswer(c)
}

func readAnswer(c net.Conn) error {
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	defer func() { _ = c.SetReadDeadline(time.Time{}) }()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != 200 {
		return errors.New(resp.Status)
	}
	return nil
}

// closedByServer reports whether the server closed c: a read ends at once with EOF.
func closedByServer(c net.Conn) bool {
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err := c.Read(make([]byte, 1))
	return errors.Is(err, io.EOF)
}

// waitForWaiting spins until Accept holds a client with no slot to give it.
func (s *served) waitForWaiting(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !s.l.waiting.Load() {
		if time.Now().After(deadline) {
			t.Fatal("Accept never waited for a slot")
		}
		runtime.Gosched()
	}
}

// TestIdleConnectionMakesRoom: with every slot held by kept-alive connections
// idle between requests, a new client is served at once, in the slot of the one
// idle the longest, which is closed; the other stays open and usable.
func TestIdleConnectionMakesRoom(t *testing.T) {
	s := serve(t, 2)
	first, second := dial(t, s.addr), dial(t, s.addr)
	for _, c := range []net.Conn{first, second} {
		if err := get(t, c, "/"); err != nil {
			t.Fatal(err)
		}
		<-s.idle // marked idle before the next one is: first is the older
	}
	third := dial(t, s.addr)
	if err := get(t, third, "/"); err != nil {
		t.Fatalf("a new client was not served while the slots were held by idle connections: %v", err)
	}
	if !closedByServer(first) {
		t.Fatal("the connection idle the longest was not closed")
	}
	if err := get(t, second, "/"); err != nil {
		t.Fatalf("the connection idle for less time was closed too: %v", err)
	}
	if got := s.l.Reclaimed(); got != 1 {
		t.Fatalf("Reclaimed() = %d, want 1", got)
	}
}

// TestBusyConnectionsKeepTheirSlots: a connection with a request in a handler,
// and one that has not finished its first request's headers, are not closed to
// make room; the newcomer waits, and takes the slot once the connection falls
// idle.
func TestBusyConnectionsKeepTheirSlots(t *testing.T) {
	for _, tc := range []struct {
		name string
		// hold occupies the only slot with c; finish lets it complete its request.
		hold, finish func(t *testing.T, s *served, c net.Conn)
	}{{
		name: "request in its handler",
		hold: func(t *testing.T, s *served, c net.Conn) {
			if _, err := io.WriteString(c, "GET /block HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			<-s.entered
		},
		finish: func(t *testing.T, s *served, c net.Conn) { close(s.release) },
	}, {
		name: "first request's headers half sent",
		hold: func(t *testing.T, s *served, c net.Conn) {
			if _, err := io.WriteString(c, "GET / HTTP/1.1\r\n"); err != nil {
				t.Fatal(err)
			}
		},
		finish: func(t *testing.T, s *served, c net.Conn) {
			if _, err := io.WriteString(c, "Host: x\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			s := serve(t, 1)
			busy := dial(t, s.addr)
			tc.hold(t, s, busy)
			newcomer := dial(t, s.addr)
			if _, err := io.WriteString(newcomer, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			s.waitForWaiting(t)
			if got := s.l.Reclaimed(); got != 0 {
				t.Fatalf("a busy connection was closed to make room (Reclaimed() = %d)", got)
			}
			tc.finish(t, s, busy)
			if err := readAnswer(busy); err != nil {
				t.Fatalf("the busy connection's request: %v", err)
			}
			if err := readAnswer(newcomer); err != nil {
				t.Fatalf("the newcomer was not served once the slot fell idle: %v", err)
			}
			if !closedByServer(busy) {
				t.Fatal("the connection that fell idle kept its slot")
			}
		})
	}
}

// TestCloseEndsTheWait: a client waiting for a slot is let go when the server
// closes; Serve returns.
func TestCloseEndsTheWait(t *testing.T) {
	s := serve(t, 1)
	busy := dial(t, s.addr)
	if _, err := io.WriteString(busy, "GET /block HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	<-s.entered
	newcomer := dial(t, s.addr)
	s.waitForWaiting(t)
	close(s.release)
	if err := s.srv.Close(); err != nil {
		t.Fatal(err)
	}
	if !closedByServer(newcomer) {
		t.Fatal("the waiting client's connection was not closed with the server")
	}
}

// TestSlotsFreeAsConnectionsClose: connections the clients close free their
// slots; a long run of them never leaves the listener short (a leaked slot
// would leave a later client unanswered).
func TestSlotsFreeAsConnectionsClose(t *testing.T) {
	s := serve(t, 2)
	for i := range 20 {
		c := dial(t, s.addr)
		if err := get(t, c, "/"); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		_ = c.Close()
	}
}

// busyWith sends c a request whose one-byte body never comes: the server
// answers it and then waits for the body, keeping the connection busy (as
// long as its ReadTimeout allows; none here).
func busyWith(t *testing.T, c net.Conn) {
	t.Helper()
	if _, err := io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
}

// TestEachAddressHoldsItsShare: with half the listener taken, one address
// keeping PerAddress connections busy (bodies announced and never sent, which
// no idle rule reclaims) gets its next one closed at once, and other
// addresses are served; an address at its share gives up its own idle
// connection first, never another's.
func TestEachAddressHoldsItsShare(t *testing.T) {
	s := serveWith(t, Options{Max: 5, PerAddress: 2})
	other := dialFrom(t, "127.0.0.3", s.addr)
	if err := get(t, other, "/"); err != nil {
		t.Fatal(err)
	}
	<-s.idle
	for range 2 {
		busyWith(t, dialFrom(t, "127.0.0.2", s.addr))
	}
	s.waitHeld(t, 3)
	third := dialFrom(t, "127.0.0.2", s.addr)
	if !closedByServer(third) {
		t.Fatal("a third connection of an address holding two busy ones was not closed")
	}
	if got := s.l.Refused(); got != 1 {
		t.Fatalf("Refused() = %d, want 1", got)
	}
	if err := get(t, other, "/"); err != nil {
		t.Fatalf("another address was not served: %v", err)
	}
	<-s.idle

	// 127.0.0.4 holds one idle connection, younger than 127.0.0.3's, and one
	// busy: its next one takes its own idle one's slot.
	own := dialFrom(t, "127.0.0.4", s.addr)
	if err := get(t, own, "/"); err != nil {
		t.Fatal(err)
	}
	<-s.idle
	busyWith(t, dialFrom(t, "127.0.0.4", s.addr))
	s.waitHeld(t, 5)
	next := dialFrom(t, "127.0.0.4", s.addr)
	if err := get(t, next, "/"); err != nil {
		t.Fatalf("the address's new connection: %v", err)
	}
	if !closedByServer(own) {
		t.Fatal("the address's own idle connection was not the one closed")
	}
	if err := get(t, other, "/"); err != nil {
		t.Fatalf("another address's idle connection was closed: %v", err)
	}
}

// waitHeld spins until the listener holds n connections.
func (s *served) waitHeld(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second) // only ends a hung test
	for {
		s.l.mu.Lock()
		held := len(s.l.conns)
		s.l.mu.Unlock()
		if held == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections held, want %d", held, n)
		}
		runtime.Gosched()
	}
}

// TestExemptAddressesHoldMore: the addresses Exempt names (the operator's
// proxies, loopback) carry many clients' connections, past PerAddress.
func TestExemptAddressesHoldMore(t *testing.T) {
	proxy := netip.MustParseAddr("127.0.0.5")
	s := serveWith(t, Options{Max: 4, PerAddress: 1, Exempt: func(a netip.Addr) bool { return a == proxy }})
	for range 3 {
		busyWith(t, dialFrom(t, proxy.String(), s.addr))
	}
	if err := get(t, dialFrom(t, proxy.String(), s.addr), "/"); err != nil {
		t.Fatalf("a fourth connection of an exempt address: %v", err)
	}
	if got := s.l.Refused(); got != 0 {
		t.Fatalf("Refused() = %d, want 0", got)
	}
}

// TestOneAddressMayHoldMoreWhileThereIsRoom: below half of Max, an address
// past PerAddress is served (a NAT or an undeclared load balancer carrying
// many clients is not refused while the listener is quiet); at half, its next
// connection is closed.
func TestOneAddressMayHoldMoreWhileThereIsRoom(t *testing.T) {
	s := serveWith(t, Options{Max: 8, PerAddress: 1})
	for i := range 4 {
		busyWith(t, dialFrom(t, "127.0.0.2", s.addr))
		s.waitHeld(t, i+1)
	}
	if !closedByServer(dialFrom(t, "127.0.0.2", s.addr)) {
		t.Fatal("the fifth connection of an address holding four busy ones, at half the listener, was not closed")
	}
}
