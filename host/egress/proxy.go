package egress

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/idplug/idplug/internal/lograte"
)

// Bounds of one tunnel.
const (
	requestTimeout  = 10 * time.Second // the CONNECT request, from accept
	resolveTimeout  = 5 * time.Second
	dialTimeout     = 10 * time.Second
	idleTimeout     = 2 * time.Minute // a tunnel with no byte either way is closed (Options.IdleTimeout)
	maxRequestBytes = 8 << 10
	maxTunnels      = 256 // per plugin process
)

// Options configure a proxy.
type Options struct {
	// Rules is asked at every request: instances come and go.
	Rules func() Rules
	// HostPorts are idplug's own listening ports: never reachable on this
	// machine's addresses.
	HostPorts []uint16
	// OnRefused is called with the reason of every refusal, for metrics.
	OnRefused func(reason string)
	// Logger gets one WARN line per refusal.
	Logger hclog.Logger
	// Resolver resolves names (net.DefaultResolver when nil).
	Resolver *net.Resolver
	// IdleTimeout closes a tunnel that moved no byte either way for that long
	// (two minutes when zero).
	IdleTimeout time.Duration

	// interfaceAddrs lists this machine's addresses (net.InterfaceAddrs when
	// nil) and dialContext connects (a net.Dialer's when nil): tests stand in
	// for the machine's network with them.
	interfaceAddrs func() ([]net.Addr, error)
	dialContext    func(ctx context.Context, network, address string) (net.Conn, error)
	// lookupNetIP resolves names (Resolver's when nil), for tests of names
	// that resolve where no test may connect.
	lookupNetIP func(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Proxy serves HTTP CONNECT for one plugin process on a Unix socket.
type Proxy struct {
	opts Options
	ln   net.Listener

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup

	refusals lograte.Window
}

// Listen starts a proxy on a Unix socket at path, which any user who can reach
// its folder may use (the plugin's socket folder is the plugin's alone).
func Listen(path string, opts Options) (*Proxy, error) {
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.Resolver == nil {
		opts.Resolver = net.DefaultResolver
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = idleTimeout
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("egress proxy: %w", err)
	}
	// A plugin running as plugin_user connects to a socket the host made.
	if err := os.Chmod(path, 0o666); err != nil {
		ln.Close()
		return nil, fmt.Errorf("egress proxy: %w", err)
	}
	p := &Proxy{opts: opts, ln: ln, conns: map[net.Conn]struct{}{}, refusals: lograte.Window{PerSecond: refusalsPerSecond}}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

// Close stops the proxy, cuts every tunnel and waits for them.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || len(p.conns) >= 2*maxTunnels {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

func (p *Proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			c.Close()
			continue
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer p.untrack(c)
			p.handle(c)
		}()
	}
}

// handle answers one CONNECT and relays the tunnel.
func (p *Proxy) handle(c net.Conn) {
	_ = c.SetDeadline(time.Now().Add(requestTimeout))
	br := bufio.NewReaderSize(io.LimitReader(c, maxRequestBytes), 4096)
	req, err := http.ReadRequest(br)
	if err != nil {
		p.refuse(c, "", &Refusal{ReasonBadRequest, "unreadable request"})
		return
	}
	if req.Method != http.MethodConnect {
		p.refuse(c, "", &Refusal{ReasonBadRequest, "only CONNECT is served (use sdk.DialContext)"})
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), resolveTimeout+dialTimeout)
	defer cancel()
	up, err := p.dial(ctx, req.Host)
	if err != nil {
		var ref *Refusal
		if errors.As(err, &ref) {
			p.refuse(c, req.Host, ref)
			return
		}
		// The plugin hands this on to its caller, an app: what failed, not
		// how this machine resolves names (its resolver's address) or
		// connects. The whole error goes to the log.
		p.opts.Logger.Debug("egress connection failed", "host", cut(req.Host, maxLoggedText), "error", err.Error())
		fmt.Fprintf(c, "HTTP/1.1 502 Bad Gateway\r\nX-Idplug-Egress: %s\r\nContent-Length: 0\r\n\r\n", plainDialError(err))
		return
	}
	if !p.track(up) {
		up.Close()
		return
	}
	defer p.untrack(up)
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	_ = c.SetDeadline(time.Time{})
	// Bytes the plugin sent along with its request (a TLS ClientHello) go first.
	if n := br.Buffered(); n > 0 {
		head, _ := br.Peek(n)
		if _, err := up.Write(head); err != nil {
			return
		}
	}
	relay(c, up, p.opts.IdleTimeout)
}

// dial resolves and checks hostport for the plugin, then connects to the very
// address it checked.
func (p *Proxy) dial(ctx context.Context, hostport string) (net.Conn, error) {
	t, err := p.opts.Rules().Match(hostport)
	if err != nil {
		return nil, err
	}
	addrs, err := p.resolve(ctx, t.Host)
	if err != nil {
		return nil, err
	}
	if ref := p.check(t, addrs); ref != nil {
		return nil, ref
	}
	dialContext := p.opts.dialContext
	if dialContext == nil {
		dialContext = (&net.Dialer{}).DialContext
	}
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	var last error
	for _, a := range addrs {
		c, err := dialContext(dctx, "tcp", netip.AddrPortFrom(a, uint16(t.Port)).String())
		if err == nil {
			return c, nil
		}
		last = err
	}
	return nil, last
}

// check refuses t when one of its addresses is out of the plugin's reach:
// idplug's own ports on this machine, whoever names them; a special address or
// one of this machine's (any port: local services bound to every address
// listen there, and special() calls most of them public), unless a
// configuration names the host, as for a provider on the same machine.
func (p *Proxy) check(t Target, addrs []netip.Addr) *Refusal {
	hostPort := slices.Contains(p.opts.HostPorts, uint16(t.Port))
	own := machine{list: p.opts.interfaceAddrs}
	for _, a := range addrs {
		shown := a.String()
		if u := unwrap(a); u != a.Unmap() {
			shown += " (NAT64 for " + u.String() + ")"
		}
		if hostPort {
			mine, err := own.has(a)
			if err != nil {
				return &Refusal{ReasonHostListener, fmt.Sprintf("%s may be idplug's own listener: %v", JoinHostPort(t.Host, t.Port), err)}
			}
			if mine {
				return &Refusal{ReasonHostListener, fmt.Sprintf("%s is idplug's own listener", JoinHostPort(t.Host, t.Port))}
			}
		}
		if t.PrivateOK {
			// A configuration names the host, but not this address: the name's
			// DNS (a connector author's own provider domain, say) chose it.
			// The machine's credentials are reached only by naming the address.
			if nodeService(a) && !isAddress(t.Host) {
				return &Refusal{ReasonPrivate, fmt.Sprintf("%s resolves to %s, a link-local address or a cloud's service for this machine, which only a configuration naming that address reaches", t.Host, shown)}
			}
			continue
		}
		if special(a) {
			return &Refusal{ReasonPrivate, fmt.Sprintf("%s resolves to %s, a loopback, private or link-local address (or another that is not public) that no configuration names", t.Host, shown)}
		}
		mine, err := own.has(a)
		if err != nil {
			return &Refusal{ReasonPrivate, fmt.Sprintf("%s resolves to %s, which may be an address of this machine: %v", t.Host, shown, err)}
		}
		if mine {
			return &Refusal{ReasonPrivate, fmt.Sprintf("%s resolves to %s, an address of this machine (where local services listen) that no configuration names", t.Host, shown)}
		}
	}
	return nil
}

// isAddress is true for a host written as an IP address.
func isAddress(host string) bool {
	_, err := netip.ParseAddr(host)
	return err == nil
}

func (p *Proxy) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a}, nil
	}
	rctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	lookup := p.opts.Resolver.LookupNetIP
	if p.opts.lookupNetIP != nil {
		lookup = p.opts.lookupNetIP
	}
	ips, err := lookup(rctx, "ip", host)
	if err != nil {
		return nil, err
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("%s has no address", host)
	}
	return ips, nil
}

func (p *Proxy) refuse(c net.Conn, hostport string, r *Refusal) {
	if n, ok := p.refusals.Allow(time.Now()); ok {
		args := []any{"to", cut(hostport, maxLoggedText), "reason", r.Reason, "detail", cut(r.Detail, maxLoggedText)}
		if n > 0 {
			args = append(args, "not_logged_before", n)
		}
		p.opts.Logger.Warn("egress refused", args...)
	}
	if p.opts.OnRefused != nil {
		p.opts.OnRefused(r.Reason)
	}
	fmt.Fprintf(c, "HTTP/1.1 403 Forbidden\r\nX-Idplug-Egress: %s\r\nContent-Length: 0\r\n\r\n", oneLine(r.Detail))
}

// A plugin decides how often it is refused: the log takes refusalsPerSecond
// lines a second of each proxy, and says how many it left out at its next
// line (the metric counts every refusal). A host name and a reason are cut to
// maxLoggedText bytes in the log.
const (
	refusalsPerSecond = 10
	maxLoggedText     = 300
)

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "..."
}

// oneLine keeps a header value on one line.
func oneLine(s string) string {
	out := []rune{}
	for _, r := range s {
		if r < ' ' || r == 0x7f {
			r = ' '
		}
		out = append(out, r)
	}
	return string(out)
}

// relay copies both ways until both sides are done, or until no byte has moved
// either way for a whole idle period: a watchdog then closes both. Activity is a
// counter the watchdog reads once a period, not a deadline set around every read
// and write (those timer updates were a fifth of the relay's CPU), so a tunnel
// ends between one and two periods after its last byte.
func relay(a, b net.Conn, idle time.Duration) {
	var moved atomic.Uint64
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		tick := time.NewTicker(idle)
		defer tick.Stop()
		var seen uint64
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if n := moved.Load(); n != seen {
					seen = n
					continue
				}
				a.Close()
				b.Close()
				return
			}
		}
	}()
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				moved.Add(1)
				if _, werr := dst.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
		done <- struct{}{}
	}
	go cp(b, a)
	go cp(a, b)
	<-done
	<-done
	close(stop)
	<-watched
}

// plainDialError says why a connection to a provider failed, in a few words
// an app may read.
func plainDialError(err error) string {
	var dns *net.DNSError
	switch {
	case errors.As(err, &dns) && dns.IsNotFound:
		return "the host name does not resolve"
	case errors.As(err, &dns) && dns.IsTimeout:
		return "resolving the host name timed out"
	case errors.As(err, &dns):
		return "the host name could not be resolved"
	case errors.Is(err, context.DeadlineExceeded) || os.IsTimeout(err):
		return "connecting timed out"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "the connection was refused"
	case errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.EHOSTUNREACH):
		return "the host cannot be reached"
	}
	return "the connection failed"
}
