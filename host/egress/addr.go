package egress

import (
	"net"
	"net/netip"
)

// cgnat is the shared address space of carrier-grade NAT (RFC 6598), private in
// all but name.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// special is true for an address a plugin may reach only when a configuration
// names its host: loopback, private, link-local, unspecified, multicast, CGNAT.
func special(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() || cgnat.Contains(a) ||
		(a.Is4() && a.As4()[0] == 0)
}

// local is true for an address of this machine: where idplug's own listeners are.
func local(a netip.Addr) bool {
	a = a.Unmap()
	if a.IsLoopback() || a.IsUnspecified() {
		return true
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return true // unknown: assume the worst
	}
	for _, ia := range addrs {
		if p, err := netip.ParsePrefix(ia.String()); err == nil && p.Addr().Unmap() == a {
			return true
		}
	}
	return false
}
