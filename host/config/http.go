package config

import (
	"strconv"
	"time"

	"github.com/idplug/idplug/host/config/internal/walk"
	"github.com/idplug/idplug/host/forwarded"
	"go.yaml.in/yaml/v3"
)

// Limits of the listeners.
const (
	DefaultReadHeaderTimeout = 5 * time.Second
	MaxReadHeaderTimeout     = time.Minute
	DefaultMaxConnections    = 1024
	MaxMaxConnections        = 1 << 20
	// DefaultMaxConnectionsPerAddress: far more than browsers open (six per
	// site) or a NAT's users keep busy at once, far fewer than the listener's.
	DefaultMaxConnectionsPerAddress = 128
)

var (
	httpKeys    = []string{"read_header_timeout", "max_connections", "max_connections_per_address", "trusted_proxies"}
	metricsKeys = []string{"connector_labels"}
)

// HTTP is the http section: how much the listeners take before a request is read.
type HTTP struct {
	// ReadHeaderTimeout bounds how long a client may take to send a request's
	// headers (a slow client holds a connection, not more).
	ReadHeaderTimeout time.Duration
	// MaxConnections caps the connections each listener holds open at once;
	// at the cap, a new one takes the slot of the one idle the longest, or
	// waits in the kernel's queue until one ends or falls idle.
	MaxConnections int
	// MaxConnectionsPerAddress caps those of one client address (an IPv6
	// /64), loopback and TrustedProxies aside; 0 for none.
	MaxConnectionsPerAddress int
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names the
	// client (see host/forwarded); none by default.
	TrustedProxies forwarded.Proxies
}

// Metrics is the metrics section.
type Metrics struct {
	// ConnectorLabels labels metrics with connector instance ids. Off by
	// default when /metrics is on the public listener: the ids say which
	// providers this host signs in with, and the counts how often.
	ConnectorLabels bool
}

func (d *decoder) httpSection(cfg *Config, fs walk.Fields) {
	cfg.HTTP = HTTP{ReadHeaderTimeout: DefaultReadHeaderTimeout, MaxConnections: DefaultMaxConnections,
		MaxConnectionsPerAddress: DefaultMaxConnectionsPerAddress}
	hfs, ok := d.section(fs, "http", httpKeys, "{read_header_timeout: 5s, max_connections: 1024, trusted_proxies: [10.0.0.0/8]}")
	if !ok {
		return
	}
	cfg.HTTP.ReadHeaderTimeout = d.duration(hfs, "read_header_timeout", DefaultReadHeaderTimeout, time.Second, MaxReadHeaderTimeout)
	cfg.HTTP.MaxConnections = d.connections(hfs, "max_connections", 1, DefaultMaxConnections)
	cfg.HTTP.MaxConnectionsPerAddress = d.connections(hfs, "max_connections_per_address", 0, DefaultMaxConnectionsPerAddress)
	items, _, _ := hfs.List("trusted_proxies")
	for _, it := range items {
		ps, err := forwarded.Parse([]string{it.Value})
		if err != nil {
			d.ps.Add(it.At.Path, it.At.Pos, "%v", err)
			continue
		}
		for _, p := range ps {
			// Trusting all (or most) of the internet's addresses lets any
			// client name itself, and the brakes on wrong API keys and client
			// secrets would count whatever it claims.
			// A private or link-local IPv6 range (fc00::/7, fe80::/10) is
			// no part of the internet, however wide.
			local := p.Addr().Is6() && (p.Masked().Addr().IsPrivate() || p.Masked().Addr().IsLinkLocalUnicast())
			if !local && (p.Addr().Is4() && p.Bits() < 8 || p.Addr().Is6() && p.Bits() < 16) {
				d.ps.Add(it.At.Path, it.At.Pos, "%s covers too much of the internet: any client there could name itself in X-Forwarded-For; list your proxies' own networks", p)
				continue
			}
			cfg.HTTP.TrustedProxies = append(cfg.HTTP.TrustedProxies, p)
		}
	}
}

// connections reads a count of connections, from least to MaxMaxConnections.
func (d *decoder) connections(fs walk.Fields, key string, least, def int) int {
	s, set, at := fs.Text(key)
	if !set {
		return def
	}
	n, err := strconv.Atoi(s)
	switch {
	case err != nil || n < least:
		d.ps.Add(at.Path, at.Pos, "%q must be a whole number of %d or more", s, least)
	case n > MaxMaxConnections:
		d.ps.Add(at.Path, at.Pos, "%d is more than the maximum of %d", n, MaxMaxConnections)
	default:
		return n
	}
	return def
}

func (d *decoder) metricsSection(cfg *Config, fs walk.Fields) {
	mfs, ok := d.section(fs, "metrics", metricsKeys, "{connector_labels: true}")
	if !ok {
		return
	}
	if s, set, at := mfs.Text("connector_labels"); set {
		switch s {
		case "true":
			cfg.Metrics.ConnectorLabels = true
		case "false":
		default:
			d.ps.Add(at.Path, at.Pos, "must be true or false")
		}
	}
}

// section returns the fields of an optional mapping section; ok is false when
// it is absent or not a mapping (which is reported, with example).
func (d *decoder) section(fs walk.Fields, key string, keys []string, example string) (walk.Fields, bool) {
	e, ok, at := fs.At(key)
	if !ok {
		return walk.Fields{}, false
	}
	v := walk.Deref(e.Value)
	if v.Kind != yaml.MappingNode {
		d.ps.Add(at.Path, at.Pos, "must be a mapping, like %s", example)
		return walk.Fields{}, false
	}
	sfs := d.Known(v, at.Path, keys)
	sfs.Pos = walk.PosOf(v)
	return sfs, true
}
