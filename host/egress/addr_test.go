package egress

import (
	"context"
	"errors"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestSpecialAddresses(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1": true, "10.1.2.3": true, "169.254.169.254": true, "100.64.0.1": true, "0.0.0.0": true,
		"::1": true, "fd00::2": true, "fe80::1": true, "::ffff:10.0.0.1": true,
		"93.184.215.14": false, "2606:2800:21f:cb07:6820:80da:af6b:8b2c": false, "::ffff:93.184.215.14": false,
		// NAT64 (RFC 6052): a gateway on the path connects to the IPv4 address
		// in the last 32 bits, so it is judged as that address.
		"64:ff9b::a9fe:a9fe": true,  // 169.254.169.254, cloud metadata
		"64:ff9b::7f00:1":    true,  // 127.0.0.1
		"64:ff9b::a00:1":     true,  // 10.0.0.1
		"64:ff9b::6440:1":    true,  // 100.64.0.1
		"64:ff9b::":          true,  // 0.0.0.0
		"64:ff9b::5db8:d70e": false, // 93.184.215.14, a public address
		// The local-use NAT64 prefix (RFC 8215) maps as its network likes.
		"64:ff9b:1::a00:1":          true,
		"64:ff9b:1:ffff::5db8:d70e": true,
		// A zone changes nothing the kernel connects to off link-local, and
		// netip's prefixes contain no zoned address: it must not hide one.
		"64:ff9b::a9fe:a9fe%lo": true,
		"64:ff9b:1::a00:1%eth0": true,
		"fe80::1%eth0":          true,
		"::ffff:10.0.0.1%lo":    true,
		// Neither public nor a provider's: reserved, benchmarking, the IETF's.
		"240.0.0.1": true, "255.255.255.255": true, "198.18.0.1": true, "198.19.255.254": true, "192.0.0.170": true,
		"198.20.0.1": false,
		// IPv6 forms carrying an IPv4 address a relay or the kernel may reach.
		"::a9fe:a9fe":                          true, // IPv4-compatible 169.254.169.254
		"2002:a9fe:a9fe::1":                    true, // 6to4
		"2001:0:4136:e378:8000:63bf:56fe:5601": true, // Teredo
		// The clouds' services for the machine.
		"168.63.129.16": true, "100.100.100.200": true, "fd00:ec2::254": true,
	} {
		if got := special(netip.MustParseAddr(addr)); got != want {
			t.Errorf("special(%s) = %v, want %v", addr, got, want)
		}
	}
}

// fakeNet stands in for this machine's interfaces and the proxy's dials, so
// that tests of addresses that are not loopback never leave it: every dial is
// recorded and goes to a loopback server.
type fakeNet struct {
	mu     sync.Mutex
	addrs  []string // this machine's addresses, as CIDR
	err    error    // reading them fails
	dialed []string
	server string
}

func (f *fakeNet) interfaceAddrs() ([]net.Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	var out []net.Addr
	for _, s := range f.addrs {
		ip, n, err := net.ParseCIDR(s)
		if err != nil {
			panic(err)
		}
		n.IP = ip
		out = append(out, n)
	}
	return out, nil
}

func (f *fakeNet) dial(ctx context.Context, network, address string) (net.Conn, error) {
	f.mu.Lock()
	f.dialed = append(f.dialed, address)
	f.mu.Unlock()
	var d net.Dialer
	return d.DialContext(ctx, network, f.server)
}

func (f *fakeNet) setAddrs(addrs ...string) {
	f.mu.Lock()
	f.addrs = addrs
	f.mu.Unlock()
}

func (f *fakeNet) takeDialed() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.dialed
	f.dialed = nil
	return d
}

// startFakeProxy is startProxy on fake's network; fake.interfaceAddrs is used
// only when realInterfaces is false.
func startFakeProxy(t *testing.T, rules Rules, fake *fakeNet, realInterfaces bool, hostPorts ...uint16) (string, func() map[string]int) {
	t.Helper()
	opts := Options{HostPorts: hostPorts}
	if !realInterfaces {
		opts.interfaceAddrs = fake.interfaceAddrs
	}
	return startFakeProxyWith(t, rules, fake, opts)
}

// startFakeProxyWith starts a proxy on fake's network with opts (its rules,
// dials and refusal counts set here), and returns its socket and its refusals.
func startFakeProxyWith(t *testing.T, rules Rules, fake *fakeNet, opts Options) (string, func() map[string]int) {
	t.Helper()
	fake.server = provider(t)
	var mu sync.Mutex
	refused := map[string]int{}
	opts.Rules, opts.dialContext = func() Rules { return rules }, fake.dial
	opts.OnRefused = func(r string) {
		mu.Lock()
		refused[r]++
		mu.Unlock()
	}
	p, err := Listen(filepath.Join(t.TempDir(), "egress.sock"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p.ln.Addr().String(), func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		return maps.Clone(refused)
	}
}

// A NAT64 address of a special address is refused like the address itself,
// and reaches nothing.
func TestProxyRefusesNAT64FormsOfSpecialAddresses(t *testing.T) {
	targets := []string{"[64:ff9b::a9fe:a9fe]:80", "[64:ff9b::7f00:1]:8080", "[64:ff9b::a00:1]:443", "[64:ff9b:1::a00:1]:443",
		"[64:ff9b::a9fe:a9fe%lo]:80"} // a zone hides nothing (sent as %25lo in the request line)
	public := "[64:ff9b::5db8:d70e]:443" // a public address through NAT64 is what it always was
	fake := &fakeNet{}
	path, refused := startFakeProxy(t, Rules{Declared: append(slices.Clone(targets), public)}, fake, false)
	for i, to := range targets {
		status, header, _ := connect(t, path, strings.ReplaceAll(to, "%", "%25"))
		if status != http.StatusForbidden || !strings.Contains(header, "loopback, private or link-local") {
			t.Errorf("declared %s: status %d, reason %q; want 403 naming a private address", to, status, header)
		}
		if i == 0 && !strings.Contains(header, "NAT64 for 169.254.169.254") {
			t.Errorf("the reason %q does not say which address NAT64 leads to", header)
		}
		if refused()[ReasonPrivate] != i+1 {
			t.Errorf("declared %s: refusals %v, want %d %s", to, refused(), i+1, ReasonPrivate)
		}
	}
	if d := fake.takeDialed(); len(d) != 0 {
		t.Errorf("refused requests were dialed: %v", d)
	}
	if status, header, body := connect(t, path, public); status != http.StatusOK || body != "provider" {
		t.Errorf("declared %s: status %d %q body %q, want it relayed", public, status, header, body)
	}
}

// A host a plugin declares may be on any public address but this machine's,
// whatever the port: a local service bound to every address (a database, a
// cache, a container runtime's API) listens there. A host a configuration
// names stays reachable there, as a provider on the same machine is, except
// idplug's own ports.
func TestProxyRefusesThisMachinesAddresses(t *testing.T) {
	const mine = "this machine"
	t.Run("its interfaces' addresses, on any port", func(t *testing.T) {
		ifaddrs, err := net.InterfaceAddrs()
		if err != nil {
			t.Fatal(err)
		}
		var targets []string
		for _, ia := range ifaddrs {
			if p, err := netip.ParsePrefix(ia.String()); err == nil && !special(p.Addr()) {
				targets = append(targets, netip.AddrPortFrom(p.Addr(), 5432).String(), netip.AddrPortFrom(p.Addr(), 443).String())
			}
		}
		if len(targets) == 0 {
			t.Skip("no interface of this machine has an address special() calls public; the next cases pretend one")
		}
		fake := &fakeNet{}
		path, _ := startFakeProxy(t, Rules{Declared: targets}, fake, true)
		for _, to := range targets {
			if status, header, _ := connect(t, path, to); status != http.StatusForbidden || !strings.Contains(header, mine) {
				t.Errorf("declared %s: status %d, reason %q; want 403 naming this machine", to, status, header)
			}
		}
		if d := fake.takeDialed(); len(d) != 0 {
			t.Errorf("refused requests were dialed: %v", d)
		}
	})

	t.Run("addresses are read at each request", func(t *testing.T) {
		fake := &fakeNet{addrs: []string{"127.0.0.1/8", "198.51.100.7/24"}}
		declared := []string{"198.51.100.7:6379", "[2001:db8::7]:2375", "[64:ff9b::c633:6407]:6379"}
		path, refused := startFakeProxy(t, Rules{Declared: declared}, fake, false)
		for _, to := range []string{"198.51.100.7:6379", "[64:ff9b::c633:6407]:6379"} { // the second is the first through NAT64
			if status, header, _ := connect(t, path, to); status != http.StatusForbidden || !strings.Contains(header, mine) {
				t.Errorf("declared %s: status %d, reason %q; want 403 naming this machine", to, status, header)
			}
		}
		// An address the machine gains (a VPN, a container network) counts
		// from the next request on.
		fake.setAddrs("127.0.0.1/8", "198.51.100.7/24", "2001:db8::7/64")
		if status, header, _ := connect(t, path, "[2001:db8::7]:2375"); status != http.StatusForbidden || !strings.Contains(header, mine) {
			t.Errorf("an address gained since: status %d, reason %q; want 403 naming this machine", status, header)
		}
		if refused()[ReasonPrivate] != 3 {
			t.Errorf("refusals %v, want 3 %s", refused(), ReasonPrivate)
		}
		if d := fake.takeDialed(); len(d) != 0 {
			t.Errorf("refused requests were dialed: %v", d)
		}
		// And one it lost is a public address like any other.
		fake.setAddrs("127.0.0.1/8")
		if status, _, body := connect(t, path, "198.51.100.7:6379"); status != http.StatusOK || body != "provider" {
			t.Errorf("an address lost since: status %d body %q, want it relayed", status, body)
		}
		if d := fake.takeDialed(); !slices.Equal(d, []string{"198.51.100.7:6379"}) {
			t.Errorf("dialed %v", d)
		}
	})

	t.Run("named by a configuration", func(t *testing.T) {
		fake := &fakeNet{addrs: []string{"127.0.0.1/8", "198.51.100.7/24"}}
		path, refused := startFakeProxy(t, Rules{Named: []string{"198.51.100.7:8443", "198.51.100.7:8080"}}, fake, false, 8080)
		if status, header, body := connect(t, path, "198.51.100.7:8443"); status != http.StatusOK || body != "provider" {
			t.Errorf("a provider on this machine that a configuration names: status %d %q body %q, want it relayed", status, header, body)
		}
		if status, header, _ := connect(t, path, "198.51.100.7:8080"); status != http.StatusForbidden || !strings.Contains(header, "idplug's own listener") {
			t.Errorf("idplug's own port: status %d, reason %q; want 403", status, header)
		}
		if d := fake.takeDialed(); !slices.Equal(d, []string{"198.51.100.7:8443"}) {
			t.Errorf("dialed %v, want only the provider", d)
		}
		if got := refused(); got[ReasonHostListener] != 1 || len(got) != 1 {
			t.Errorf("refusals %v", got)
		}
	})

	t.Run("its addresses cannot be read", func(t *testing.T) {
		fake := &fakeNet{err: errors.New("netlink: no buffer space")}
		path, _ := startFakeProxy(t, Rules{Declared: []string{"198.51.100.7:443"}}, fake, false)
		if status, header, _ := connect(t, path, "198.51.100.7:443"); status != http.StatusForbidden || !strings.Contains(header, "cannot be read") {
			t.Errorf("status %d, reason %q; want 403 saying why", status, header)
		}
		if d := fake.takeDialed(); len(d) != 0 {
			t.Errorf("dialed %v", d)
		}
	})
}

// A host a configuration names may be on a private address, as a provider on
// the same network is; but its name's DNS (a connector author's own provider
// domain, say) must not lead the plugin to the machine's credentials: a
// link-local address or a cloud's service for the machine is reached only when
// the configuration names that address itself.
func TestNamedHostsReachTheMachinesCredentialsOnlyByAddress(t *testing.T) {
	fake := &fakeNet{}
	rules := Rules{Named: []string{"id.corp.test:443", "rebind.corp.test:443", "wire.corp.test:443", "169.254.169.254:80", "10.0.0.5:443"}}
	path, refused := startFakeProxyResolving(t, rules, fake, map[string]string{
		"id.corp.test": "10.0.0.7", "rebind.corp.test": "169.254.169.254", "wire.corp.test": "168.63.129.16",
	})
	for _, to := range []string{"rebind.corp.test:443", "wire.corp.test:443"} {
		status, header, _ := connect(t, path, to)
		if status != http.StatusForbidden || !strings.Contains(header, "only a configuration naming that address reaches") {
			t.Errorf("named %s: status %d, reason %q; want 403 for the machine's credentials", to, status, header)
		}
	}
	if refused()[ReasonPrivate] != 2 {
		t.Errorf("refusals %v, want 2 %s", refused(), ReasonPrivate)
	}
	if d := fake.takeDialed(); len(d) != 0 {
		t.Errorf("refused requests were dialed: %v", d)
	}
	// A private provider by name, and the metadata service by its address, as
	// configured.
	for _, to := range []string{"id.corp.test:443", "169.254.169.254:80", "10.0.0.5:443"} {
		if status, header, body := connect(t, path, to); status != http.StatusOK || body != "provider" {
			t.Errorf("named %s: status %d %q body %q, want it relayed", to, status, header, body)
		}
	}
}

// startFakeProxyResolving is startFakeProxy with names resolved from names.
func startFakeProxyResolving(t *testing.T, rules Rules, fake *fakeNet, names map[string]string) (string, func() map[string]int) {
	t.Helper()
	return startFakeProxyWith(t, rules, fake, Options{interfaceAddrs: fake.interfaceAddrs,
		lookupNetIP: func(_ context.Context, _, host string) ([]netip.Addr, error) {
			a, ok := names[host]
			if !ok {
				return nil, errors.New("no such host")
			}
			return []netip.Addr{netip.MustParseAddr(a)}, nil
		}})
}
