package forwarded

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestClientAddr(t *testing.T) {
	ps, err := Parse([]string{"10.0.0.0/8", "192.0.2.10", "2001:db8:ffff::/48"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, remote string
		xff          []string
		want         string
	}{
		{"no proxy: the header is the client's word, ignored", "203.0.113.9:5000", []string{"198.51.100.1"}, "203.0.113.9:5000"},
		{"one proxy", "10.1.2.3:4000", []string{"203.0.113.9"}, "203.0.113.9:0"},
		{"a listed address", "192.0.2.10:4000", []string{"203.0.113.9"}, "203.0.113.9:0"},
		{"an address next to a listed one is not trusted", "192.0.2.11:4000", []string{"203.0.113.9"}, "192.0.2.11:4000"},
		{"two proxies", "10.1.2.3:4000", []string{"203.0.113.9, 10.9.9.9"}, "203.0.113.9:0"},
		{"a client that sends its own header: the proxy appended the truth",
			"10.1.2.3:4000", []string{"198.51.100.66, 10.0.0.1, 203.0.113.9"}, "203.0.113.9:0"},
		{"the same over several header lines", "10.1.2.3:4000", []string{"198.51.100.66", "203.0.113.9, 10.9.9.9"}, "203.0.113.9:0"},
		{"entries with ports", "10.1.2.3:4000", []string{"203.0.113.9:51234"}, "203.0.113.9:0"},
		{"IPv6", "[2001:db8:ffff::1]:443", []string{"[2001:db8:1::5]:1234"}, "[2001:db8:1::5]:0"},
		{"bare IPv6 and a mapped IPv4", "10.1.2.3:4000", []string{"::ffff:203.0.113.9"}, "203.0.113.9:0"},
		{"garbage from a proxy stops the walk at that proxy", "10.1.2.3:4000", []string{"203.0.113.9, unknown, 10.9.9.9"}, "10.9.9.9:0"},
		{"garbage first", "10.1.2.3:4000", []string{"x"}, "10.1.2.3:0"},
		{"every hop a proxy", "10.1.2.3:4000", []string{"10.7.7.7, 10.8.8.8"}, "10.7.7.7:0"},
		{"a zone is not an address", "10.1.2.3:4000", []string{"fe80::1%eth0"}, "10.1.2.3:0"},
		{"a peer that is no address", "@", []string{"203.0.113.9"}, "@"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ps.ClientAddr(tc.remote, tc.xff); got != tc.want {
				t.Errorf("ClientAddr(%q, %q) = %q, want %q", tc.remote, tc.xff, got, tc.want)
			}
		})
	}

	// A long chain is read from the right for maxHops entries at most: the
	// client cannot make the walk long.
	long := strings.Repeat("10.0.0.1, ", 10000) + "10.0.0.2"
	if got := ps.ClientAddr("10.1.2.3:4000", []string{long}); got != "10.0.0.1:0" {
		t.Errorf("a long chain of proxies: %q", got)
	}

	if got := Proxies(nil).ClientAddr("10.1.2.3:4000", []string{"203.0.113.9"}); got != "10.1.2.3:4000" {
		t.Errorf("no proxies listed: %q", got)
	}
}

func TestParse(t *testing.T) {
	ps, err := Parse([]string{"10.1.2.3/8", "::ffff:192.0.2.1", "2001:db8::1"})
	if err != nil {
		t.Fatal(err)
	}
	if got := ps[0].String() + " " + ps[1].String() + " " + ps[2].String(); got != "10.0.0.0/8 192.0.2.1/32 2001:db8::1/128" {
		t.Errorf("parsed %s", got)
	}
	for _, bad := range []string{"", "localhost", "10.0.0.0/33", "fe80::1%eth0", "10.0.0.1:80"} {
		if _, err := Parse([]string{bad}); err == nil || !strings.Contains(err.Error(), "is not an address or a network") && !strings.Contains(err.Error(), "zone") {
			t.Errorf("Parse(%q) = %v", bad, err)
		}
	}
}

func TestHandlerRewritesOnlyForProxies(t *testing.T) {
	ps, _ := Parse([]string{"127.0.0.1"})
	var seen string
	h := ps.Handler(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { seen = r.RemoteAddr }))
	for remote, want := range map[string]string{"127.0.0.1:5555": "203.0.113.9:0", "192.0.2.1:5555": "192.0.2.1:5555"} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = remote
		r.Header.Set("X-Forwarded-For", "203.0.113.9")
		h.ServeHTTP(httptest.NewRecorder(), r)
		if seen != want {
			t.Errorf("from %s: RemoteAddr %q, want %q", remote, seen, want)
		}
	}
}

// A dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d, so operators
// copy proxies in that form; peers are compared unmapped, so mapped networks
// must be read as their IPv4 equivalent or they never match.
func TestMappedProxiesMatchTheirIPv4Peers(t *testing.T) {
	for entry, want := range map[string]string{
		"::ffff:10.1.2.3":     "10.1.2.3/32",
		"::ffff:10.0.0.0/104": "10.0.0.0/8",
		"::ffff:10.1.2.3/128": "10.1.2.3/32",
		"::ffff:10.1.2.3/120": "10.1.2.0/24",
	} {
		ps, err := Parse([]string{entry})
		if err != nil {
			t.Fatalf("Parse(%q): %v", entry, err)
		}
		if got := ps[0].String(); got != want {
			t.Errorf("Parse(%q) = %s, want %s", entry, got, want)
		}
		for _, remote := range []string{"10.1.2.3:4000", "[::ffff:10.1.2.3]:4000"} {
			if got := ps.ClientAddr(remote, []string{"203.0.113.9"}); got != "203.0.113.9:0" {
				t.Errorf("trusted_proxies [%s], peer %s: client %q, want 203.0.113.9:0", entry, remote, got)
			}
		}
		if got := ps.ClientAddr("10.200.0.1:4000", []string{"203.0.113.9"}); entry != "::ffff:10.0.0.0/104" && got != "10.200.0.1:4000" {
			t.Errorf("trusted_proxies [%s] trusts 10.200.0.1: %q", entry, got)
		}
	}
	// A mapped network wider than the mapped block has no IPv4 equivalent.
	if _, err := Parse([]string{"::ffff:10.0.0.0/95"}); err == nil || !strings.Contains(err.Error(), `"::ffff:10.0.0.0/95"`) {
		t.Errorf("Parse(::ffff:10.0.0.0/95) = %v, want an error naming the entry", err)
	}
}
