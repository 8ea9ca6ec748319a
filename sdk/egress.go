package sdk

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/idplug/idplug/internal/wire"
)

// proxyHandshakeTimeout bounds the CONNECT exchange with the host's proxy when
// the caller's context has no earlier deadline (the proxy's own dial to the
// provider is inside it).
const proxyHandshakeTimeout = 30 * time.Second

// maxProxyAnswer caps the proxy's answer to a CONNECT.
const maxProxyAnswer = 16 << 10

// DialContext connects to addr ("host:port", TCP) the way a plugin must: through
// the host's egress proxy when the host runs one (the sandbox then gives the
// plugin no network of its own, and the host lets it reach only the hosts its
// configuration names and those its metadata declares in EgressHosts), directly
// otherwise. TLS stays end to end: the proxy only relays bytes.
func DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	proxy := os.Getenv(wire.EnvEgressProxy)
	if proxy == "" {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, fmt.Errorf("egress proxy: only TCP goes through it, not %s", network)
	}
	return dialProxy(ctx, proxy, addr)
}

// NewTransport is http.DefaultTransport dialling with DialContext and ignoring
// proxy variables: use it (or oauth2kit's client, which does) for every HTTP
// request a plugin makes.
func NewTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.DialContext = DialContext
	return t
}

// dialProxy asks the proxy at path for a tunnel to addr.
func dialProxy(ctx context.Context, path, addr string) (net.Conn, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, proxyHandshakeTimeout)
		defer cancel()
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("egress proxy: %w", err)
	}
	// The context bounds the handshake, and cancelling it cuts a handshake short.
	dl, _ := ctx.Deadline()
	_ = c.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", addr, addr); err != nil {
		c.Close()
		return nil, fmt.Errorf("egress proxy: %w", err)
	}
	br := bufio.NewReaderSize(&limitedConn{Conn: c, left: maxProxyAnswer}, 4096)
	res, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("egress proxy: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		c.Close()
		reason := res.Header.Get("X-Idplug-Egress")
		if reason == "" {
			reason = res.Status
		}
		return nil, fmt.Errorf("egress proxy refused %s: %s", addr, reason)
	}
	if !stop() {
		c.Close()
		return nil, fmt.Errorf("egress proxy: %w", ctx.Err())
	}
	_ = c.SetDeadline(time.Time{})
	if br.Buffered() > 0 {
		// A server that spoke first: what was read with the answer comes first.
		return &bufferedConn{Conn: c, r: br}, nil
	}
	return c, nil
}

// limitedConn reads at most left bytes through the handshake's reader.
type limitedConn struct {
	net.Conn
	left int
}

func (l *limitedConn) Read(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, fmt.Errorf("answer over %d bytes", maxProxyAnswer)
	}
	if len(p) > l.left {
		p = p[:l.left]
	}
	n, err := l.Conn.Read(p)
	l.left -= n
	return n, err
}

type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (b *bufferedConn) Read(p []byte) (int, error) {
	if b.r.Buffered() > 0 {
		return b.r.Read(p)
	}
	return b.Conn.Read(p)
}
