// Package sandbox confines plugin processes. The host does not start a plugin
// executable itself: it starts its own binary again (/proc/self/exe) as a small
// launcher, which sets no_new_privs, applies a Landlock ruleset and a seccomp deny
// list to itself, and then executes the plugin from a file descriptor the host
// opened and verified. Exec keeps the restrictions, so they hold before the first
// instruction of the plugin runs.
//
// What the plugin keeps: reading its own file, the system's CA certificates,
// resolver and time zone files, the shared libraries, its own /proc/self; reading
// and writing (never executing from) its own socket folder; in egress mode open,
// outbound TCP to any port but idplug's own. Everything else on the file system,
// binding TCP ports, signalling or tracing other processes, abstract Unix sockets
// outside its domain, executing a memfd and a list of kernel-level system calls
// are denied. The plugin runs in a private mount namespace whose root holds only
// what it may use, so it cannot even name another Unix socket; in egress mode
// proxy it also has a network namespace of its own and no TCP connect at all: its
// HTTP goes through the host's egress proxy (see Egress). A policy with an
// unknown mode or a lone "*" key starts no plugin (Policy.Check).
package sandbox

import (
	"fmt"
	"slices"
	"strings"

	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"
)

// Mode says how strictly plugins are confined.
type Mode string

// The sandbox modes.
const (
	// ModeAuto applies what the kernel supports and reports the rest.
	ModeAuto Mode = "auto"
	// ModeRequired refuses to start a plugin that cannot be confined fully.
	ModeRequired Mode = "required"
	// ModeOff runs plugins unconfined (the verified file is still what runs).
	ModeOff Mode = "off"
)

// Modes lists the valid modes, for configuration checks.
var Modes = []string{string(ModeAuto), string(ModeRequired), string(ModeOff)}

// The Landlock ABI versions that bring each restriction.
const (
	abiFS     = 1 // file system access
	abiNet    = 4 // TCP bind and connect
	abiScopes = 6 // signals and abstract Unix sockets
)

// Policy is how the host confines its plugins.
type Policy struct {
	// Mode is auto (the default, when empty), required or off.
	Mode Mode
	// Read lists extra read-only paths per plugin name (the file name without
	// idplug-connector-), for a plugin that needs files of its own. A key ending
	// in "*" applies to every plugin whose name starts with the text before it.
	Read map[string][]string
	// Exec lists, keyed like Read, files a plugin may read and execute, or
	// folders whose executable files it may run; the loaders and libraries they
	// need are granted with them.
	Exec map[string][]string
	// User, when set, is the account plugins run as; the host must run as root.
	User *User
	// EgressAllow narrows, keyed like Read, the hosts a plugin's metadata
	// declares (EgressHosts) to those listed ("host" or "host:port"); a plugin
	// no key names keeps all it declares.
	EgressAllow map[string][]string
	// Egress is proxy (the default where the kernel allows: no TCP connect, HTTP
	// through the host to the hosts the config names) or open (direct TCP to any
	// port but HostPorts).
	Egress Egress
	// HostPorts are the TCP ports idplug itself listens on: no plugin connects to
	// them, whatever the egress mode.
	HostPorts []uint16
	// ABILimit, when above zero, pretends the kernel offers at most this Landlock
	// ABI. It exists for tests of the modes on a kernel that has everything.
	ABILimit int
	// NoNamespaces pretends the kernel cannot make namespaces (tests only).
	NoNamespaces bool
}

// Egress says how a plugin reaches the network.
type Egress string

// The egress modes.
const (
	// EgressProxy gives the plugin no network of its own: its HTTP goes through
	// the host's proxy, which lets it reach only the hosts its config names.
	EgressProxy Egress = "proxy"
	// EgressOpen lets the plugin connect to any TCP port but idplug's own.
	EgressOpen Egress = "open"
)

// EgressModes lists the valid egress modes, for configuration checks.
var EgressModes = []string{string(EgressProxy), string(EgressOpen)}

// EffectiveMode is Mode with its default applied.
func (p Policy) EffectiveMode() Mode {
	if p.Mode == "" {
		return ModeAuto
	}
	return p.Mode
}

// Check refuses what a configuration refuses too, for code that builds a Policy
// itself: a mode other than auto, required or off (a misspelt mode must not
// confine less than the one meant), and a Read or Exec key that is a lone "*"
// (a path meant for one plugin would reach them all).
func (p Policy) Check() error {
	if m := p.EffectiveMode(); !validMode(m) {
		return fmt.Errorf("sandbox mode %q is not one of %s: no plugin starts", m, strings.Join(Modes, ", "))
	}
	if p.Egress != "" && !slices.Contains(EgressModes, string(p.Egress)) {
		return fmt.Errorf("sandbox egress %q is not one of %s: no plugin starts", p.Egress, strings.Join(EgressModes, ", "))
	}
	for _, entries := range []struct {
		name string
		m    map[string][]string
	}{{"read", p.Read}, {"exec", p.Exec}, {"egress_allow", p.EgressAllow}} {
		if _, ok := entries.m["*"]; ok {
			return fmt.Errorf("sandbox %s key \"*\" names every plugin: name a plugin or a prefix ending in * (like logto-*); no plugin starts", entries.name)
		}
	}
	return nil
}

func validMode(m Mode) bool { return slices.Contains(Modes, string(m)) }

// Support is what the running kernel offers.
type Support struct {
	// LandlockABI is the Landlock ABI version, 0 without Landlock.
	LandlockABI int
	// Seccomp is true when seccomp filters can be installed.
	Seccomp bool
	// Namespaces is true when the launcher can make private mount, PID, IPC,
	// UTS and network namespaces (as root, or through a user namespace).
	Namespaces bool
	// NoOwnProc is true when, in those namespaces, no procfs of the plugin's
	// PID namespace can be mounted (a container runtime's masked /proc, in a
	// user namespace): the private root then binds the host's.
	NoOwnProc bool
}

// Detect asks the kernel what it supports, capped by p.ABILimit.
func Detect(p Policy) Support {
	var s Support
	if v, err := ll.LandlockGetABIVersion(); err == nil {
		s.LandlockABI = v
	}
	if p.ABILimit > 0 && s.LandlockABI > p.ABILimit {
		s.LandlockABI = p.ABILimit
	}
	if _, err := unix.PrctlRetInt(unix.PR_GET_SECCOMP, 0, 0, 0, 0); err == nil && auditArch != 0 {
		s.Seccomp = true
	}
	if !p.NoNamespaces {
		ok, proc := namespacesWork()
		s.Namespaces, s.NoOwnProc = ok, ok && !proc
	}
	return s
}

// Report says what confinement plugins get under a policy on this kernel.
type Report struct {
	Mode        Mode     `json:"mode"`
	LandlockABI int      `json:"landlockAbi"`
	Applied     []string `json:"applied"`
	Missing     []string `json:"missing"`
	// Egress is the egress mode in force: proxy or open.
	Egress Egress `json:"egress,omitempty"`
	User   string `json:"user,omitempty"`
	// invalid is why the policy itself is refused (Policy.Check), or "".
	invalid string
}

// The restrictions, by the names Report uses.
const (
	FeatureFS      = "landlock file system"
	FeatureBind    = "landlock tcp bind"
	FeatureScopes  = "landlock signal and abstract socket scopes"
	FeatureSeccomp = "seccomp deny list"
	// FeatureConnect keeps plugins from connecting to idplug's own TCP ports, and
	// in egress mode proxy from connecting over TCP at all.
	FeatureConnect = "landlock tcp connect"
	// FeatureRoot is the private mount namespace: a root that holds only what the
	// plugin may use, so no named Unix socket outside its folder can be reached
	// (Landlock up to ABI 7 does not mediate connecting to one).
	FeatureRoot = "private root (mount namespace)"
	// FeatureProc is a /proc of the plugin's own PID namespace in its root: it
	// lists the plugin's processes, not the host's (without Landlock, their
	// environments and files through /proc/<pid>/root were in reach).
	FeatureProc = "private /proc (pid namespace)"
	// FeatureIPC is a plugin's own IPC and UTS namespaces: no SysV IPC or POSIX
	// message queue of the host's or another plugin's, and a host name of its
	// own.
	FeatureIPC = "private ipc and uts namespaces"
	// FeatureEgress is the egress proxy: a network namespace of its own, HTTP
	// through the host to the hosts its config names.
	FeatureEgress = "egress proxy (network namespace)"
)

// Assess compares the policy with what the kernel supports.
func Assess(p Policy, s Support) Report {
	r := Report{Mode: p.EffectiveMode(), LandlockABI: s.LandlockABI, Applied: []string{}, Missing: []string{}}
	if p.User != nil {
		r.User = p.User.Name
	}
	if err := p.Check(); err != nil {
		r.invalid = err.Error()
	}
	if r.Mode == ModeOff {
		r.Egress = EgressOpen
		return r
	}
	add := func(ok bool, name, why string) {
		if ok {
			r.Applied = append(r.Applied, name)
		} else {
			r.Missing = append(r.Missing, name+" ("+why+")")
		}
	}
	add(s.LandlockABI >= abiFS, FeatureFS, "no Landlock in this kernel")
	add(s.LandlockABI >= abiNet, FeatureBind, fmt.Sprintf("needs Landlock ABI %d, kernel has %d", abiNet, s.LandlockABI))
	add(s.LandlockABI >= abiScopes, FeatureScopes, fmt.Sprintf("needs Landlock ABI %d, kernel has %d", abiScopes, s.LandlockABI))
	add(s.Seccomp, FeatureSeccomp, "no seccomp in this kernel")
	add(s.LandlockABI >= abiNet, FeatureConnect, fmt.Sprintf("needs Landlock ABI %d, kernel has %d", abiNet, s.LandlockABI))
	add(s.Namespaces, FeatureRoot, "this process can make no mount namespace: no root, and no user namespaces")
	procWhy := "no PID namespace"
	if s.Namespaces {
		procWhy = "no procfs can be mounted in the plugin's namespaces (a masked /proc): the host's is bound"
	}
	add(s.Namespaces && !s.NoOwnProc, FeatureProc, procWhy)
	add(s.Namespaces, FeatureIPC, "no namespaces: plugins share SysV IPC, POSIX message queues and the host name with the host")
	// The proxy is the default where the kernel can enforce it; asked for
	// explicitly, a kernel that cannot is a gap like any other.
	r.Egress = p.Egress
	if r.Egress == "" {
		r.Egress = EgressOpen
		if s.Namespaces && s.LandlockABI >= abiNet {
			r.Egress = EgressProxy
		}
	}
	if r.Egress == EgressProxy {
		ok := s.Namespaces && s.LandlockABI >= abiNet
		add(ok, FeatureEgress, "needs a network namespace and Landlock ABI 4")
		if !ok {
			r.Egress = EgressOpen // what is in force
		}
	}
	return r
}

// Complete is true when nothing the policy asks for is missing; never for a
// policy that is refused (an unknown mode, a lone "*" key).
func (r Report) Complete() bool {
	if r.invalid != "" || !validMode(Policy{Mode: r.Mode}.EffectiveMode()) {
		return false
	}
	return r.Mode == ModeOff || len(r.Missing) == 0
}

// Refusal is the reason no plugin starts, or "": a policy that is refused (an
// unknown mode fails closed), or a kernel that cannot apply all of ModeRequired.
func (r Report) Refusal() string {
	switch {
	case r.invalid != "":
		return r.invalid
	case !validMode(Policy{Mode: r.Mode}.EffectiveMode()):
		return Policy{Mode: r.Mode}.Check().Error()
	case r.Mode != ModeRequired || r.Complete():
		return ""
	}
	return "sandbox mode is required, but this kernel cannot apply: " + strings.Join(r.Missing, ", ")
}

// Has reports whether feature is applied.
func (r Report) Has(feature string) bool { return slices.Contains(r.Applied, feature) }
