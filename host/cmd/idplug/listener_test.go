package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/idplug/idplug/host/config"
	"github.com/idplug/idplug/host/forwarded"
	"github.com/idplug/idplug/host/metrics"
)

// documentationPeers makes each accepted connection from 127.0.0.N look as if
// it came from 192.0.2.N: loopback peers are never capped by address, and
// tests reach only loopback.
type documentationPeers struct{ net.Listener }

func (l documentationPeers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	ap := netip.MustParseAddrPort(c.RemoteAddr().String())
	a := ap.Addr().As4()
	peer := netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, a[3]}), ap.Port())
	return peerConn{c, net.TCPAddrFromAddrPort(peer)}, nil
}

type peerConn struct {
	net.Conn
	peer net.Addr
}

func (c peerConn) RemoteAddr() net.Addr { return c.peer }

// TestListenerCapsEachAddress: idplug's listener, as serve builds it, with
// half its connections taken, closes at once the connection of an address
// that holds http.max_connections_per_address busy ones (requests that
// announce a body and never send it, held for 30 s each), serves other
// addresses, leaves the trusted proxies uncapped, and counts what it refused
// on /metrics.
func TestListenerCapsEachAddress(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	proxies, err := forwarded.Parse([]string{"192.0.2.9"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{HTTP: config.HTTP{MaxConnections: 4, MaxConnectionsPerAddress: 1, TrustedProxies: proxies, ReadHeaderTimeout: time.Minute}}
	m := metrics.New()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }),
		ReadHeaderTimeout: time.Minute, ReadTimeout: time.Minute}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(limitConnections(srv, documentationPeers{lis}, cfg, m, "public")) }()
	t.Cleanup(func() {
		_ = srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	addr := lis.Addr().String()
	dial := func(from string) net.Conn {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	hold := func(c net.Conn) {
		t.Helper()
		if _, err := io.WriteString(c, "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
	}
	answered := func(c net.Conn) bool {
		t.Helper()
		if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			return false
		}
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second)) // only ends a hung test
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}
	hold(dial("127.0.0.2"))
	hold(dial("127.0.0.5")) // half the listener is taken
	if answered(dial("127.0.0.2")) {
		t.Fatal("an address holding http.max_connections_per_address busy connections was served another")
	}
	if !answered(dial("127.0.0.3")) {
		t.Fatal("another address was not served")
	}
	hold(dial("127.0.0.9")) // the trusted proxy; the listener is full
	if !answered(dial("127.0.0.9")) {
		t.Fatal("a trusted proxy was capped by address")
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if !strings.Contains(rec.Body.String(), `idplug_http_connections_refused_total{listener="public"} 1`+"\n") {
		t.Fatalf("/metrics does not count the refused connection:\n%s", rec.Body)
	}
}
