package sandbox

import (
	"errors"
	"os"
	"strconv"
	"testing"

	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"
)

// TestConnectRulesetSpec: a launcher's own ruleset keeps idplug's ports out by
// a rule for every other port, unless the host's shared ruleset is given, which
// then does it as a layer of its own.
func TestConnectRulesetSpec(t *testing.T) {
	base := Spec{Landlock: true}
	_, plain := ruleset(7, base)
	open := base
	open.DenyPorts = []uint16{8080, 9100}
	cfg, own := ruleset(7, open)
	if cfg.HandledAccessNet&ll.AccessNetConnectTCP == 0 || len(own)-len(plain) != 65533 {
		t.Errorf("own rules: connect handled %v, %d port rules, want 65533", cfg.HandledAccessNet, len(own)-len(plain))
	}
	open.ConnectRuleset = true
	cfg, shared := ruleset(7, open)
	if cfg.HandledAccessNet&ll.AccessNetConnectTCP != 0 || len(shared) != len(plain) {
		t.Errorf("with the host's ruleset: connect handled %v, %d more rules", cfg.HandledAccessNet, len(shared)-len(plain))
	}
	// Egress mode proxy denies every connect in the launcher's own ruleset.
	proxy := Spec{Landlock: true, NoConnect: true, DenyPorts: []uint16{8080}, ConnectRuleset: true}
	if cfg, rules := ruleset(7, proxy); cfg.HandledAccessNet&ll.AccessNetConnectTCP == 0 || len(rules) != len(plain) {
		t.Errorf("no connect: handled %v, %d more rules", cfg.HandledAccessNet, len(rules)-len(plain))
	}
}

func TestNewConnectRules(t *testing.T) {
	full := Report{Mode: ModeAuto, Applied: []string{FeatureFS, FeatureConnect}, Egress: EgressOpen}
	ports := Policy{HostPorts: []uint16{8080}}
	proxy := full
	proxy.Egress = EgressProxy
	noConnect := full
	noConnect.Applied = []string{FeatureFS}
	off := full
	off.Mode = ModeOff
	for name, c := range map[string]struct {
		p    Policy
		r    Report
		want bool
	}{
		"egress open":         {ports, full, true},
		"egress proxy":        {ports, proxy, false},
		"no port of idplug's": {Policy{}, full, false},
		"no Landlock connect": {ports, noConnect, false},
		"sandbox off":         {ports, off, false},
	} {
		if got := NewConnectRules(c.p, c.r) != nil; got != c.want {
			t.Errorf("%s: rules made = %v, want %v", name, got, c.want)
		}
	}
	if NewConnectRules(ports, proxy).Close() != nil {
		t.Error("closing no rules failed")
	}
}

// TestConnectRulesetOnThisKernel makes the shared ruleset once, checks that it
// stays out of every child but the launchers given it, and closes it.
func TestConnectRulesetOnThisKernel(t *testing.T) {
	if abi, err := ll.LandlockGetABIVersion(); err != nil || abi < abiNet {
		t.Skipf("needs Landlock ABI %d (%v)", abiNet, err)
	}
	rules := NewConnectRules(Policy{HostPorts: []uint16{8080}}, Report{Mode: ModeAuto, Applied: []string{FeatureFS, FeatureConnect}, Egress: EgressOpen})
	f, err := rules.ruleset()
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := rules.ruleset(); again != f {
		t.Error("a second start made the rules again")
	}
	flags, err := unix.FcntlInt(f.Fd(), unix.F_GETFD, 0)
	if err != nil || flags&unix.FD_CLOEXEC == 0 {
		t.Errorf("the ruleset is inherited by every child (flags %d, %v)", flags, err)
	}
	if target, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(f.Fd()))); target != "anon_inode:[landlock-ruleset]" {
		t.Errorf("descriptor is %q", target)
	}
	if err := rules.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := rules.ruleset(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
}
