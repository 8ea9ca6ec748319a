package egress

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// startProxy runs a proxy on a socket in a temporary folder under rules.
func startProxy(t *testing.T, rules Rules, hostPorts ...uint16) (string, func() map[string]int) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "egress.sock")
	var mu sync.Mutex
	refused := map[string]int{}
	p, err := Listen(path, Options{Rules: func() Rules { return rules }, HostPorts: hostPorts, OnRefused: func(r string) {
		mu.Lock()
		refused[r]++
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return path, func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		out := map[string]int{}
		for k, v := range refused {
			out[k] = v
		}
		return out
	}
}

// connect asks the proxy at path for addr and, when it answers 200, sends a
// GET through the tunnel and returns the body.
func connect(t *testing.T, path, addr string) (status int, header, body string) {
	t.Helper()
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", addr, addr)
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		return res.StatusCode, res.Header.Get("X-Idplug-Egress"), ""
	}
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", addr)
	got, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(got.Body)
	return 200, "", string(b)
}

func provider(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "provider") }))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestProxyRelaysToNamedHosts(t *testing.T) {
	addr := provider(t)
	path, refused := startProxy(t, Rules{Named: []string{addr}})
	if status, _, body := connect(t, path, addr); status != 200 || body != "provider" {
		t.Fatalf("status %d body %q", status, body)
	}
	if len(refused()) != 0 {
		t.Errorf("refusals %v", refused())
	}
}

// Each refusal is 403 with its reason, counted, and no byte reaches the target.
func TestProxyRefusals(t *testing.T) {
	named := provider(t)
	hits := 0
	var mu sync.Mutex
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
	}))
	defer other.Close()
	otherAddr := strings.TrimPrefix(other.URL, "http://")
	_, otherPort, _ := net.SplitHostPort(otherAddr)
	listener := provider(t) // standing in for idplug's own listener
	_, lport, _ := net.SplitHostPort(listener)
	var lp uint16
	fmt.Sscan(lport, &lp)
	rules := Rules{
		Named: []string{named, listener},
		// A declared host that resolves to loopback, as a rebinding name would.
		Declared: []string{"localhost:" + otherPort},
	}
	path, refused := startProxy(t, rules, lp)
	cases := []struct {
		name, to, reason, detail string
	}{
		{"hostile: an address no config names", otherAddr, ReasonNotNamed, "named by no configuration"},
		{"hostile: a declared name resolving to loopback", "localhost:" + otherPort, ReasonPrivate, "loopback, private or link-local"},
		{"hostile: idplug's own listener, even when a config names it", listener, ReasonHostListener, "idplug's own listener"},
		{"hostile: idplug's listener by another loopback address", strings.Replace(listener, "127.0.0.1", "127.0.0.2", 1), ReasonNotNamed, ""},
		{"hostile: no port", "example.com", ReasonBadRequest, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := refused()[c.reason]
			status, header, _ := connect(t, path, c.to)
			if status != http.StatusForbidden || !strings.Contains(header, c.detail) {
				t.Errorf("status %d, reason %q", status, header)
			}
			if refused()[c.reason] != before+1 {
				t.Errorf("refusals %v, want one more %s", refused(), c.reason)
			}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	if hits != 0 {
		t.Errorf("a refused request reached its target %d times", hits)
	}
}

// Only CONNECT is served: a plain request through the proxy is refused.
func TestProxyServesOnlyConnect(t *testing.T) {
	addr := provider(t)
	path, refused := startProxy(t, Rules{Named: []string{addr}})
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET http://%s/ HTTP/1.1\r\nHost: %s\r\n\r\n", addr, addr)
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusForbidden || refused()[ReasonBadRequest] != 1 {
		t.Errorf("status %d, refusals %v", res.StatusCode, refused())
	}
}

// Close cuts open tunnels and returns.
func TestProxyCloseCutsTunnels(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer srv.Close()
	defer close(block)
	addr := strings.TrimPrefix(srv.URL, "http://")
	path := filepath.Join(t.TempDir(), "egress.sock")
	p, err := Listen(path, Options{Rules: func() Rules { return Rules{Named: []string{addr}} }})
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", addr, addr)
	br := bufio.NewReader(c)
	if res, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect}); err != nil || res.StatusCode != 200 {
		t.Fatalf("%v %v", res, err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := br.ReadByte(); err == nil {
		t.Error("the tunnel still answers after Close")
	}
}

// tunnel opens a tunnel through a proxy with the given idle timeout to a TCP
// server that runs serve on its one connection.
func tunnel(t *testing.T, idle time.Duration, serve func(net.Conn)) (net.Conn, *bufio.Reader) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	served := make(chan struct{})
	go func() {
		defer close(served)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		serve(c)
	}()
	addr := ln.Addr().String()
	path := filepath.Join(t.TempDir(), "egress.sock")
	p, err := Listen(path, Options{Rules: func() Rules { return Rules{Named: []string{addr}} }, IdleTimeout: idle})
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		_ = p.Close()
		ln.Close()
		<-served
	})
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", addr, addr)
	br := bufio.NewReader(c)
	if res, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect}); err != nil || res.StatusCode != 200 {
		t.Fatalf("CONNECT: %v %v", res, err)
	}
	return c, br
}

// A tunnel where nothing moves is closed by the proxy, both ways.
func TestProxyClosesAnIdleTunnel(t *testing.T) {
	upstreamEnded := make(chan error, 1)
	c, br := tunnel(t, 100*time.Millisecond, func(up net.Conn) {
		_ = up.SetReadDeadline(time.Now().Add(30 * time.Second))
		_, err := up.Read(make([]byte, 1))
		upstreamEnded <- err
	})
	// A bound for a broken proxy, far above the idle timeout.
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("read from an idle tunnel: %v, want io.EOF (the proxy closed it)", err)
	}
	if err := <-upstreamEnded; err != io.EOF {
		t.Errorf("the provider's side of an idle tunnel: %v, want io.EOF", err)
	}
}

// Bytes moving one way only keep a tunnel open: the idle timeout counts both
// directions (a download the plugin sends nothing during is not idle).
func TestProxyKeepsATunnelThatMovesOneWay(t *testing.T) {
	// A byte every 300 ms: a stall of the test of up to 2.7 s is not idle.
	const idle, chunks = 3 * time.Second, 12
	c, br := tunnel(t, idle, func(up net.Conn) {
		tick := time.NewTicker(idle / 10)
		defer tick.Stop()
		for range chunks {
			<-tick.C
			if _, err := up.Write([]byte{'x'}); err != nil {
				return
			}
		}
		_ = up.(*net.TCPConn).CloseWrite()
	})
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	got, err := io.ReadAll(br)
	if err != nil || len(got) != chunks {
		t.Fatalf("read %d of %d bytes sent over %s with an idle timeout of %s: %v", len(got), chunks, chunks*idle/10, idle, err)
	}
}

// A plugin decides how often it is refused, and what host it names: the log
// takes a few lines a second of each proxy, each of bounded length, while the
// metric counts every refusal.
func TestRefusalsDoNotFloodTheLog(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	path := filepath.Join(t.TempDir(), "egress.sock")
	refused := 0
	p, err := Listen(path, Options{Rules: func() Rules { return Rules{} },
		Logger: hclog.New(&hclog.LoggerOptions{Output: &lockedWriter{mu: &mu, w: &logs}, Level: hclog.Info}),
		OnRefused: func(string) {
			mu.Lock()
			refused++
			mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	start := time.Now()
	host := strings.Repeat("a", 3000) + ".test:443"
	// At least 300, and for over two seconds: refusals then come after the
	// first window closed, and the line that opens the next counts those
	// left out.
	sent := 0
	for sent < 300 || time.Since(start) < 2100*time.Millisecond {
		if status, _, _ := connect(t, path, host); status != http.StatusForbidden {
			t.Fatalf("status %d", status)
		}
		sent++
	}
	elapsed := time.Since(start)
	seconds := int(elapsed/time.Second) + 1
	mu.Lock()
	defer mu.Unlock()
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if refused != sent || len(lines) > refusalsPerSecond*(seconds+1) {
		t.Fatalf("%d of %d refusals counted, %d lines logged in %d s", refused, sent, len(lines), seconds)
	}
	for _, l := range lines {
		if len(l) > 1000 {
			t.Fatalf("a line of %d bytes: %.200s", len(l), l)
		}
	}
	if !strings.Contains(logs.String(), "not_logged_before=") {
		t.Errorf("the lines left out were never counted:\n%s", logs.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// A connection the proxy could not make is told in a few words the plugin may
// hand on to an app, not the resolver's or the dialer's own (which name this
// machine's resolver and addresses); the log has them.
func TestFailedConnectionsAreToldPlainly(t *testing.T) {
	const closed = "127.0.0.1:1" // a privileged port no test listens on
	var logs bytes.Buffer
	var mu sync.Mutex
	path := filepath.Join(t.TempDir(), "egress.sock")
	p, err := Listen(path, Options{Rules: func() Rules { return Rules{Named: []string{closed}} },
		Logger: hclog.New(&hclog.LoggerOptions{Output: &lockedWriter{mu: &mu, w: &logs}, Level: hclog.Debug})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	status, header, _ := connect(t, path, closed)
	if status != http.StatusBadGateway || header != "the connection was refused" {
		t.Fatalf("%d %q, want 502 and the connection was refused", status, header)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "connection refused") {
		t.Errorf("the log lacks the dialer's error:\n%s", logs.String())
	}
}
