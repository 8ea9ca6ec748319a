package sandbox

import (
	"encoding/binary"
	"os"
	"strings"
	"testing"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

func TestAssess(t *testing.T) {
	full := Assess(Policy{}, Support{LandlockABI: 7, Seccomp: true, Namespaces: true})
	if full.Mode != ModeAuto || len(full.Applied) != 9 || len(full.Missing) != 0 || !full.Complete() || full.Refusal() != "" {
		t.Errorf("ABI 7: %+v", full)
	}
	old := Assess(Policy{Mode: ModeRequired}, Support{LandlockABI: 3, Seccomp: true})
	if !old.Has(FeatureFS) || old.Has(FeatureBind) || old.Has(FeatureScopes) || len(old.Missing) != 6 ||
		!strings.Contains(old.Refusal(), "needs Landlock ABI 4, kernel has 3") {
		t.Errorf("ABI 3, required: %+v, refusal %q", old, old.Refusal())
	}
	if r := Assess(Policy{}, Support{}); len(r.Missing) != 8 || r.Refusal() != "" {
		t.Errorf("nothing, auto: %+v", r)
	}
	if r := Assess(Policy{Mode: ModeOff}, Support{}); len(r.Applied) != 0 || len(r.Missing) != 0 || !r.Complete() {
		t.Errorf("off: %+v", r)
	}
}

func TestLookupUser(t *testing.T) {
	if os.Geteuid() != 0 {
		if _, err := LookupUser("nobody"); err == nil || !strings.Contains(err.Error(), "not root") {
			t.Fatalf("err = %v", err)
		}
		return
	}
	if _, err := LookupUser("root"); err == nil || !strings.Contains(err.Error(), "is root") {
		t.Errorf("root: err = %v", err)
	}
	if _, err := LookupUser("no-such-user-idplug"); err == nil || !strings.Contains(err.Error(), `plugin_user "no-such-user-idplug"`) {
		t.Errorf("unknown: err = %v", err)
	}
	if u, err := LookupUser("nobody"); err != nil || u.UID == 0 {
		t.Errorf("nobody: %+v, %v", u, err)
	}
}

// TestSeccompFilter runs the program on a BPF interpreter: seccomp's loads are in
// the machine's byte order, the interpreter's in network order, so the test lays
// out struct seccomp_data with each 32-bit field it reads in big-endian.
func TestSeccompFilter(t *testing.T) {
	raw := filter()
	insns := make([]bpf.RawInstruction, len(raw))
	for i, f := range raw {
		insns[i] = bpf.RawInstruction{Op: f.Code, Jt: f.Jt, Jf: f.Jf, K: f.K}
	}
	prog, ok := bpf.Disassemble(insns)
	if !ok {
		t.Fatal("the program does not disassemble")
	}
	vm, err := bpf.NewVM(prog)
	if err != nil {
		t.Fatal(err)
	}
	run := func(arch, nr uint32, args ...uint32) uint32 {
		data := make([]byte, 64)
		binary.BigEndian.PutUint32(data[offNr:], nr)
		binary.BigEndian.PutUint32(data[offArch:], arch)
		for i, a := range args {
			binary.BigEndian.PutUint32(data[offArg0+8*i:], a)
		}
		out, err := vm.Run(data)
		if err != nil {
			t.Fatal(err)
		}
		return uint32(out)
	}
	const (
		allow = unix.SECCOMP_RET_ALLOW
		eperm = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	)
	for _, nr := range deniedSyscalls {
		if got := run(auditArch, uint32(nr)); got != eperm {
			t.Errorf("syscall %d: %#x, want EPERM", nr, got)
		}
	}
	cases := []struct {
		name string
		got  uint32
		want uint32
	}{
		{"read", run(auditArch, unix.SYS_READ), allow},
		{"connect", run(auditArch, unix.SYS_CONNECT), allow},
		{"execve", run(auditArch, unix.SYS_EXECVE), allow},
		{"another architecture", run(0x40000003, unix.SYS_READ), unix.SECCOMP_RET_KILL_PROCESS},
		{"clone3", run(auditArch, unix.SYS_CLONE3), unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)},
		{"clone for a thread", run(auditArch, unix.SYS_CLONE, unix.CLONE_VM|unix.CLONE_THREAD|unix.CLONE_SIGHAND), allow},
		{"clone into a user namespace", run(auditArch, unix.SYS_CLONE, unix.CLONE_NEWUSER), eperm},
		{"tcp socket", run(auditArch, unix.SYS_SOCKET, unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP), allow},
		{"udp socket", run(auditArch, unix.SYS_SOCKET, unix.AF_INET6, unix.SOCK_DGRAM, 0), allow},
		{"unix socket", run(auditArch, unix.SYS_SOCKET, unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK, 0), allow},
		{"multipath tcp socket", run(auditArch, unix.SYS_SOCKET, unix.AF_INET, unix.SOCK_STREAM, ipprotoMPTCP), eperm},
		{"raw socket", run(auditArch, unix.SYS_SOCKET, unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 1), eperm},
		{"packet socket", run(auditArch, unix.SYS_SOCKET, unix.AF_PACKET, unix.SOCK_DGRAM, 0), eperm},
	}
	if x32Bit != 0 {
		cases = append(cases, struct {
			name      string
			got, want uint32
		}{"x32 read", run(auditArch, x32Bit|unix.SYS_READ), eperm})
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s: %#x, want %#x", c.name, c.got, c.want)
		}
	}
}
