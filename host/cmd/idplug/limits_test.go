package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The listeners' limits and what /metrics shows, through the real binary.

func TestMetricsConnectorLabelsOptIn(t *testing.T) {
	cfg := exampleConfig + "metrics: {connector_labels: true}\n"
	p := startIdplug(t, pluginFolder(t, "example"), cfg)
	p.call(t, "POST", "/v1/connectors/demo/authorization-uri", "k1-0123456789abcdef0123456789abcdef", map[string]any{"redirectUri": "https://app.test/cb"})
	_, text := do(t, http.DefaultClient, "GET", p.URL+"/metrics", nil)
	if !strings.Contains(text, `idplug_connector_calls_total{code="ok",connector="demo",plugin="example",rpc="AuthorizationURI"} 1`) {
		t.Fatalf("connector_labels: true, yet no connector label:\n%s", text)
	}
}

func TestReadHeaderTimeout(t *testing.T) {
	cfg := exampleConfig + "http: {read_header_timeout: 1s}\n"
	p := startIdplug(t, pluginFolder(t, "example"), cfg)
	conn, err := net.Dial("tcp", strings.TrimPrefix(p.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Half a request line, then nothing: idplug closes the connection.
	if _, err := conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n")); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second)) // a bound for the test only
	_, err = io.ReadAll(conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("a client that never finished its headers kept its connection")
	}
}

// TestMaxConnections: connections in the middle of a request hold their
// slots; a client past the cap waits in the kernel's queue until one ends.
func TestMaxConnections(t *testing.T) {
	cfg := exampleConfig + "http: {max_connections: 2, read_header_timeout: 1m}\n"
	p := startIdplug(t, pluginFolder(t, "example"), cfg)
	addr := strings.TrimPrefix(p.URL, "http://")
	// Two connections, each halfway through its request's headers: both are
	// accepted and held.
	held := dialEach(t, addr, 2, func(c net.Conn) {
		if _, err := c.Write([]byte("GET /healthz HTTP/1.1\r\n")); err != nil {
			t.Fatal(err)
		}
	})
	third := dialEach(t, addr, 1, func(net.Conn) {})[0] // queued by the kernel, not served
	if _, err := third.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	_ = third.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := third.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a third connection was served while two were held: %v", err)
	}
	held[0].Close() // a slot frees: the third is accepted and answered
	_ = third.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(third), nil)
	if err != nil {
		t.Fatalf("the queued connection was not served once a slot freed: %v", err)
	}
	resp.Body.Close()
	mustEqual(t, "queued request status", resp.StatusCode, 200)
}

// TestIdleConnectionsMakeRoom: one client that fills every slot with
// kept-alive connections and leaves them idle does not lock others out: a new
// client takes the slot of one of them, which idplug closes, and /metrics
// counts it.
func TestIdleConnectionsMakeRoom(t *testing.T) {
	cfg := exampleConfig + "http: {max_connections: 2}\n"
	p := startIdplug(t, pluginFolder(t, "example"), cfg)
	addr := strings.TrimPrefix(p.URL, "http://")
	dialEach(t, addr, 2, func(c net.Conn) {
		if status := roundTrip(t, c, 30*time.Second); status != 200 {
			t.Fatalf("held connection: status %d", status)
		}
	})
	// A new client, without keep-alive so that the next one is not held up.
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(p.URL + "/healthz")
	if err != nil {
		t.Fatalf("a new client was not served while idle connections held every slot: %v", err)
	}
	resp.Body.Close()
	mustEqual(t, "new client's status", resp.StatusCode, 200)
	_, text := do(t, client, "GET", p.URL+"/metrics", nil)
	// One, or two when /metrics came before idplug had closed the first
	// client's connection.
	if !regexp.MustCompile(`(?m)^idplug_http_idle_connections_closed_total\{listener="public"\} [12]$`).MatchString(text) {
		t.Fatalf("/metrics does not count the idle connection closed to make room:\n%s", text)
	}
}

// dialEach opens n connections to addr, one after the other, and does with
// each what use says before the next; they are closed when the test ends.
func dialEach(t *testing.T, addr string, n int, use func(net.Conn)) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, n)
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		use(c)
		conns[i] = c
	}
	return conns
}

// roundTrip sends GET /healthz on c, keeping it alive, and returns the status.
func roundTrip(t *testing.T, c net.Conn, bound time.Duration) int {
	t.Helper()
	if _, err := c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(bound))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	_ = c.SetReadDeadline(time.Time{})
	return resp.StatusCode
}
