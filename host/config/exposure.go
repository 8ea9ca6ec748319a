package config

import (
	"net"
	"net/url"
	"strings"

	"github.com/idplug/idplug/host/config/internal/walk"
)

// MinAPIKeyLen is the shortest API key accepted, in bytes: a key is the only
// thing between the internet and /v1, and short keys can be guessed.
const MinAPIKeyLen = 32

// publicURLIsLoopback reports whether browsers reach the host only from this
// machine. Anything else (a reverse proxy in front of a loopback listen
// included) exposes /v1 to the network, so API keys are then required.
func publicURLIsLoopback(publicURL string) bool {
	u, err := url.Parse(publicURL)
	return err == nil && isLoopback(u.Hostname())
}

// requireAPIKeys records the problem of an API that would be open to the
// network: a listen address or a public_url that is not loopback, without
// api_keys.
func (d *decoder) requireAPIKeys(cfg *Config, at walk.Loc, kind listenKind) {
	if len(cfg.APIKeys) > 0 {
		return
	}
	switch {
	case kind == listenPublic:
		d.ps.Add(at.Path, at.Pos, "is required when listen (%s) is not a loopback address", cfg.Listen)
	case cfg.PublicURL != "" && !publicURLIsLoopback(cfg.PublicURL):
		d.ps.Add(at.Path, at.Pos, "is required when public_url (%s) is not a loopback address: behind a reverse proxy /v1 would be open to everyone", cfg.PublicURL)
	}
}

// adminListen decodes admin_listen, the optional second listener for /metrics
// and the detailed /readyz.
func (d *decoder) adminListen(cfg *Config, fs walk.Fields) {
	s, set, at := fs.Text("admin_listen")
	if !set || s == "" {
		return
	}
	if _, msg := checkListen(s); msg != "" {
		d.ps.Add(at.Path, at.Pos, "%s", msg)
		return
	}
	// Two port-0 listeners get a port each: only a fixed port can clash, on
	// the same host written another way too (localhost and 127.0.0.1), or on
	// every address (0.0.0.0, ::, an empty host) and any other.
	if s == cfg.Listen && !strings.HasSuffix(s, ":0") || sharePort(s, cfg.Listen) {
		d.ps.Add(at.Path, at.Pos, "%q must differ from listen (%s): both would take one port", s, cfg.Listen)
		return
	}
	cfg.AdminListen = s
}

// sharePort reports whether listeners on a and b would want the same port of
// one address.
func sharePort(a, b string) bool {
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil || pa != pb || pa == "0" {
		return false
	}
	norm := func(h string) string {
		switch h {
		case "", "0.0.0.0", "::":
			return "*"
		case "localhost":
			return "127.0.0.1"
		}
		return h
	}
	ha, hb = norm(ha), norm(hb)
	return ha == hb || ha == "*" || hb == "*"
}
