package sandbox

import (
	"fmt"
	"os"
	"slices"
	"sync"

	"github.com/landlock-lsm/go-landlock/landlock"
	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"
)

// connectFD is where the launcher finds the host's connect ruleset
// (ExtraFiles[1]) when Spec.ConnectRuleset is set.
const connectFD = 4

// ConnectRules are the Landlock rules of egress mode open, made once for every
// plugin a host starts. Landlock's network rules only grant, by port, so keeping
// plugins off idplug's own ports takes a rule for each of the other 65,533 ports,
// one system call each: some 70 ms on an idle machine, over 200 on a busy one,
// that every plugin start paid while its launcher made them. The host makes a
// ruleset of those rules alone, once, and each launcher applies it as a second Landlock layer beside its own ruleset
// (an access must pass every layer), then closes it before the plugin runs: a
// plugin holding it could add rules to what later plugins get.
type ConnectRules struct {
	deny []uint16

	mu     sync.Mutex
	file   *os.File
	closed bool
}

// NewConnectRules returns the connect rules a host with policy p and report r
// shares among its plugins, or nil when its launchers need none: egress mode
// proxy (no TCP connect at all), no Landlock network rules, or no port of
// idplug's to keep out. They are made at the first start that uses them.
func NewConnectRules(p Policy, r Report) *ConnectRules {
	if r.Mode == ModeOff || !r.Has(FeatureFS) || !r.Has(FeatureConnect) || r.Egress == EgressProxy || len(p.HostPorts) == 0 {
		return nil
	}
	return &ConnectRules{deny: slices.Clone(p.HostPorts)}
}

// ruleset is the ruleset's descriptor, made at the first call.
func (c *ConnectRules) ruleset() (*os.File, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed:
		return nil, os.ErrClosed
	case c.file != nil:
		return c.file, nil
	}
	cfg := landlock.Config{HandledAccessNet: ll.AccessNetConnectTCP}
	fd, _, err := cfg.NewRulesetFD(connectRules(c.deny)...)
	switch {
	case err != nil:
		return nil, fmt.Errorf("landlock connect rules: %w", err)
	case fd < 0:
		return nil, fmt.Errorf("landlock connect rules: this kernel handles no TCP connect rule")
	}
	// The kernel makes it close-on-exec: only the launchers given it as an
	// extra file get it.
	c.file = os.NewFile(uintptr(fd), "landlock-connect-rules")
	return c.file, nil
}

// Close releases the ruleset. Plugins started with it keep their layer.
func (c *ConnectRules) Close() error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.file == nil {
		return nil
	}
	f := c.file
	c.file = nil
	return f.Close()
}

// applyConnectRuleset adds the host's connect ruleset as a Landlock layer of
// the calling thread, which must have no_new_privs set, and closes it.
func applyConnectRuleset() error {
	defer unix.Close(connectFD)
	return ll.LandlockRestrictSelf(connectFD, 0)
}
