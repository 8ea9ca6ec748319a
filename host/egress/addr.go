package egress

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
)

var (
	// cgnat is the shared address space of carrier-grade NAT (RFC 6598),
	// private in all but name.
	cgnat = netip.MustParsePrefix("100.64.0.0/10")
	// nat64 is NAT64's well-known prefix (RFC 6052): a gateway on the path
	// connects to the IPv4 address in its last 32 bits, so 64:ff9b::a9fe:a9fe
	// is 169.254.169.254 and must be judged as that.
	nat64 = netip.MustParsePrefix("64:ff9b::/96")
	// nat64Local is the local-use NAT64 prefix (RFC 8215): the network maps it
	// as it likes, so nothing in it can be taken for public.
	nat64Local = netip.MustParsePrefix("64:ff9b:1::/48")
	// Neither public nor anyone's provider: the reserved 240.0.0.0/4 (with the
	// broadcast address), benchmarking's 198.18.0.0/15 and the IETF's
	// 192.0.0.0/24; and IPv6 forms that carry an IPv4 address a relay or the
	// kernel may reach in their stead (IPv4-compatible ::/96, 6to4 2002::/16,
	// Teredo 2001::/32), which no provider publishes.
	notPublic = []netip.Prefix{
		netip.MustParsePrefix("240.0.0.0/4"), netip.MustParsePrefix("198.18.0.0/15"),
		netip.MustParsePrefix("192.0.0.0/24"), netip.MustParsePrefix("::/96"),
		netip.MustParsePrefix("2002::/16"), netip.MustParsePrefix("2001::/32"),
	}
	// cloudNode are the clouds' services for the machine itself, beside
	// link-local addresses (where the metadata service is, 169.254.169.254,
	// and EKS Pod Identity, 169.254.170.23): Azure's WireServer, Alibaba
	// Cloud's metadata (in CGNAT's range) and AWS's IPv6 metadata.
	cloudNode = []netip.Addr{
		netip.MustParseAddr("168.63.129.16"), netip.MustParseAddr("100.100.100.200"),
		netip.MustParseAddr("fd00:ec2::254"),
	}
)

// nodeService is true for a link-local address or a cloud's service for the
// machine: credentials for the machine's role live there, and no provider
// does.
func nodeService(a netip.Addr) bool {
	a = unwrap(a)
	return a.IsLinkLocalUnicast() || slices.Contains(cloudNode, a)
}

// unwrap is the address a is reached at: an IPv4-mapped address as IPv4, a
// NAT64 address (RFC 6052) as the IPv4 address it carries, without a zone
// (netip's prefixes contain no zoned address, and the kernel ignores the zone
// of one that is not link-local: 64:ff9b::a9fe:a9fe%lo is 169.254.169.254).
func unwrap(a netip.Addr) netip.Addr {
	a = a.Unmap().WithZone("")
	if nat64.Contains(a) {
		b := a.As16()
		return netip.AddrFrom4([4]byte(b[12:]))
	}
	return a
}

// special is true for an address a plugin may reach only when a configuration
// names its host: loopback, private, link-local, unspecified, multicast, CGNAT,
// the local-use NAT64 prefix, the ranges that are not public (notPublic), a
// cloud's service for the machine, or a NAT64 address of any of these.
func special(a netip.Addr) bool {
	a = unwrap(a)
	if a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() || cgnat.Contains(a) ||
		(a.Is4() && a.As4()[0] == 0) || nat64Local.Contains(a) || slices.Contains(cloudNode, a) {
		return true
	}
	for _, p := range notPublic {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// machine answers whether addresses belong to this machine, where idplug's
// own listeners and any local service bound to every address (a database, a
// cache, a container runtime's API) are. It reads the interfaces' addresses at
// its first question, once per request: they change (DHCP, a VPN, a container
// network coming up), and a list kept from before would let a new one through.
type machine struct {
	list  func() ([]net.Addr, error)
	addrs []netip.Addr
	err   error
	read  bool
}

// has is true for an address of this machine: loopback, unspecified (which
// connects to this machine), an interface's address, or a NAT64 address of one.
// When the interfaces cannot be read the answer is an error, never a guess
// that lets the address through.
func (m *machine) has(a netip.Addr) (bool, error) {
	a = unwrap(a)
	if a.IsLoopback() || a.IsUnspecified() {
		return true, nil
	}
	if !m.read {
		m.read = true
		list := m.list
		if list == nil {
			list = net.InterfaceAddrs
		}
		ifaddrs, err := list()
		if err != nil {
			m.err = fmt.Errorf("this machine's addresses cannot be read: %w", err)
		}
		for _, ia := range ifaddrs {
			if p, err := netip.ParsePrefix(ia.String()); err == nil {
				m.addrs = append(m.addrs, unwrap(p.Addr()))
			}
		}
	}
	if m.err != nil {
		return false, m.err
	}
	for _, own := range m.addrs {
		if own == a {
			return true, nil
		}
	}
	return false, nil
}
