// Package forwarded finds the address a request came from when it reached
// idplug through the operator's reverse proxies (an ingress, a load balancer).
// Behind one, every request's peer is the proxy, so the brakes on wrong API
// keys and client secrets (counted per address) would let anyone's ten
// failures a minute refuse everyone, and the access log would name the proxy.
//
// Only proxies the operator lists are believed. For a request from one of
// them, the client is the last address of X-Forwarded-For that is not a listed
// proxy: each proxy appends the address it was reached from, so the entries
// to the left of that one are whatever the client chose to send, and are
// ignored. A request from anywhere else keeps its peer address, whatever
// headers it carries.
package forwarded

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// maxHops bounds how many X-Forwarded-For entries are read, from the right.
const maxHops = 32

// Proxies are the trusted proxies' addresses.
type Proxies []netip.Prefix

// Parse reads addresses (192.0.2.10, 2001:db8::1) and networks (10.0.0.0/8).
// IPv4-mapped ones (::ffff:10.0.0.0/104) are read as their IPv4 equivalent.
func Parse(list []string) (Proxies, error) {
	var out Proxies
	for _, s := range list {
		p, err := parsePrefix(s)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not an address or a network, like 10.0.0.0/8 or 192.0.2.10", s)
		}
		if p.Addr().Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("%q has a zone", s)
		}
		// Peers are compared unmapped (a dual-stack listener reports IPv4
		// peers as ::ffff:a.b.c.d), so a network written IPv4-mapped must be
		// unmapped too, or it would never match.
		if p.Addr().Is4In6() {
			if p.Bits() < 96 {
				return netip.Prefix{}, fmt.Errorf("%q spans more than the IPv4-mapped addresses (::ffff:0:0/96); write the IPv4 network, like 10.0.0.0/8", s)
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q is not an address or a network, like 10.0.0.0/8 or 192.0.2.10", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Trusts says whether a is one of the proxies.
func (ps Proxies) Trusts(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ClientAddr is the address (host:port, the port 0 when it came from the
// header) of the client of a request from remote that carried the
// X-Forwarded-For values xff. It is remote unless remote is a trusted proxy.
func (ps Proxies) ClientAddr(remote string, xff []string) string {
	if len(ps) == 0 || len(xff) == 0 {
		return remote
	}
	peer, ok := parseAddr(remote)
	if !ok || !ps.Trusts(peer) {
		return remote
	}
	client := peer
	hops := 0
	// Right to left over every header line, as if they were one list.
	for i := len(xff) - 1; i >= 0 && hops < maxHops; i-- {
		entries := strings.Split(xff[i], ",")
		for j := len(entries) - 1; j >= 0 && hops < maxHops; j-- {
			hops++
			a, ok := parseAddr(strings.TrimSpace(entries[j]))
			if !ok {
				// A trusted proxy appended what is not an address: nothing
				// to its left can be told from the client's own words.
				return hostPort(client)
			}
			client = a
			if !ps.Trusts(a) {
				return hostPort(client)
			}
		}
	}
	return hostPort(client)
}

// Handler sets r.RemoteAddr to the client's address for requests from a
// trusted proxy, for every handler after it (rate limits, access log, traces).
func (ps Proxies) Handler(next http.Handler) http.Handler {
	if len(ps) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			if addr := ps.ClientAddr(r.RemoteAddr, xff); addr != r.RemoteAddr {
				r2 := *r
				r2.RemoteAddr = addr
				r = &r2
			}
		}
		next.ServeHTTP(w, r)
	})
}

// parseAddr reads an address as proxies write it: bare (192.0.2.7, 2001:db8::1)
// or with a port (192.0.2.7:51234, [2001:db8::1]:443).
func parseAddr(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil && ap.Addr().Zone() == "" {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

func hostPort(a netip.Addr) string { return net.JoinHostPort(a.String(), "0") }
