package sandbox

import (
	"encoding/binary"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

const (
	retAllow  = unix.SECCOMP_RET_ALLOW
	retEPERM  = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	retENOSYS = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
	retKill   = unix.SECCOMP_RET_KILL_PROCESS
)

// seccompVM loads the filter into a BPF interpreter. The kernel's loads read
// struct seccomp_data in the machine's byte order and the interpreter's in
// network order, so the returned function lays each 32-bit field out
// big-endian (for an argument, its low half at the offset the filter reads).
func seccompVM(t *testing.T) func(arch, nr uint32, args ...uint32) uint32 {
	t.Helper()
	if auditArch == 0 {
		t.Skip("no seccomp program is written for this architecture")
	}
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
	return func(arch, nr uint32, args ...uint32) uint32 {
		data := make([]byte, 64)
		binary.BigEndian.PutUint32(data[offNr:], nr)
		binary.BigEndian.PutUint32(data[offArch:], arch)
		for i, a := range args {
			binary.BigEndian.PutUint32(data[offArg0+8*i:], a)
		}
		out, err := vm.Run(data)
		if err != nil {
			t.Fatalf("the filter fails on nr %d: %v", nr, err)
		}
		return uint32(out)
	}
}

// deniedByName are the system calls the deny list must answer with EPERM, by
// the names docs/security.md uses.
var deniedByName = map[string]uintptr{
	"ptrace": unix.SYS_PTRACE, "process_vm_readv": unix.SYS_PROCESS_VM_READV, "process_vm_writev": unix.SYS_PROCESS_VM_WRITEV,
	"pidfd_getfd": unix.SYS_PIDFD_GETFD, "process_madvise": unix.SYS_PROCESS_MADVISE, "kcmp": unix.SYS_KCMP,
	"bpf": unix.SYS_BPF, "perf_event_open": unix.SYS_PERF_EVENT_OPEN, "userfaultfd": unix.SYS_USERFAULTFD,
	"mount": unix.SYS_MOUNT, "umount2": unix.SYS_UMOUNT2, "pivot_root": unix.SYS_PIVOT_ROOT,
	"fsopen": unix.SYS_FSOPEN, "fsconfig": unix.SYS_FSCONFIG, "fsmount": unix.SYS_FSMOUNT, "fspick": unix.SYS_FSPICK,
	"move_mount": unix.SYS_MOVE_MOUNT, "open_tree": unix.SYS_OPEN_TREE, "mount_setattr": unix.SYS_MOUNT_SETATTR,
	"kexec_load": unix.SYS_KEXEC_LOAD, "kexec_file_load": unix.SYS_KEXEC_FILE_LOAD,
	"init_module": unix.SYS_INIT_MODULE, "finit_module": unix.SYS_FINIT_MODULE, "delete_module": unix.SYS_DELETE_MODULE,
	"keyctl": unix.SYS_KEYCTL, "add_key": unix.SYS_ADD_KEY, "request_key": unix.SYS_REQUEST_KEY,
	"unshare": unix.SYS_UNSHARE, "setns": unix.SYS_SETNS,
	"swapon": unix.SYS_SWAPON, "swapoff": unix.SYS_SWAPOFF, "reboot": unix.SYS_REBOOT,
	"memfd_create":  unix.SYS_MEMFD_CREATE,
	"clock_settime": unix.SYS_CLOCK_SETTIME, "settimeofday": unix.SYS_SETTIMEOFDAY, "adjtimex": unix.SYS_ADJTIMEX,
	"clock_adjtime": unix.SYS_CLOCK_ADJTIME, "syslog": unix.SYS_SYSLOG,
	"sethostname": unix.SYS_SETHOSTNAME, "setdomainname": unix.SYS_SETDOMAINNAME,
	"io_uring_setup": unix.SYS_IO_URING_SETUP, "io_uring_enter": unix.SYS_IO_URING_ENTER, "io_uring_register": unix.SYS_IO_URING_REGISTER,
}

// archOnly are documented calls that only some architectures have (I/O port
// access: amd64); archDeniedByName holds those of this one.
var archOnly = []string{"iopl", "ioperm"}

func init() { maps.Copy(deniedByName, archDeniedByName) }

// TestSeccompDenyList: every call of the documented list gets EPERM, and the
// list holds no call beyond those.
func TestSeccompDenyList(t *testing.T) {
	run := seccompVM(t)
	for name, nr := range deniedByName {
		t.Run(name+" is denied", func(t *testing.T) {
			if got := run(auditArch, uint32(nr)); got != retEPERM {
				t.Errorf("%s (%d): %#x, want EPERM", name, nr, got)
			}
		})
	}
	for _, nr := range deniedSyscalls {
		if !slices.Contains(slices.Collect(maps.Values(deniedByName)), nr) {
			t.Errorf("syscall %d is denied but not in the documented list", nr)
		}
	}
}

// TestSeccompDocumented: docs/security.md names exactly the calls the filter
// denies (its seccomp row, before the argument rules).
func TestSeccompDocumented(t *testing.T) {
	root, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, "..", "..", "docs", "security.md"))
	if err != nil {
		t.Fatal(err)
	}
	var row string
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, "| **seccomp.**") {
			row = line
		}
	}
	if row == "" {
		t.Fatal("docs/security.md has no seccomp row")
	}
	list, _, _ := strings.Cut(row, "; `clone` with")
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("`([a-z0-9_]+)`").FindAllStringSubmatch(list, -1) {
		name := m[1]
		if name == "writev" { // written `process_vm_readv`/`writev`
			name = "process_vm_writev"
		}
		documented[name] = true
		if _, ok := deniedByName[name]; !ok && !slices.Contains(archOnly, name) {
			t.Errorf("docs/security.md lists %s, which the filter does not deny", name)
		}
	}
	// The documentation may shorten the new mount API with "...".
	shortened := map[string]bool{"fsconfig": true, "fspick": true, "mount_setattr": true}
	for name := range deniedByName {
		if !documented[name] && !shortened[name] {
			t.Errorf("%s is denied but docs/security.md does not list it", name)
		}
	}
}

// TestSeccompArgumentRules: what the filter decides from the architecture, the
// number and the arguments, each case named for the rule it proves.
func TestSeccompArgumentRules(t *testing.T) {
	run := seccompVM(t)
	otherArch := uint32(unix.AUDIT_ARCH_AARCH64)
	if auditArch == unix.AUDIT_ARCH_AARCH64 {
		otherArch = unix.AUDIT_ARCH_X86_64
	}
	type c struct {
		name string
		arch uint32
		nr   uint32
		args []uint32
		want uint32
	}
	cases := []c{
		// The deny list is a deny list: what it does not name is allowed.
		{"read is allowed", auditArch, unix.SYS_READ, nil, retAllow},
		{"openat is allowed (Landlock decides paths)", auditArch, unix.SYS_OPENAT, nil, retAllow},
		{"connect is allowed (plugins reach their provider)", auditArch, unix.SYS_CONNECT, nil, retAllow},
		{"bind is allowed (Landlock decides TCP bind)", auditArch, unix.SYS_BIND, nil, retAllow},
		{"kill is allowed (Landlock scopes signals)", auditArch, unix.SYS_KILL, nil, retAllow},
		{"execve is allowed (Landlock decides what runs)", auditArch, unix.SYS_EXECVE, nil, retAllow},
		{"an unknown number is allowed", auditArch, 4000, nil, retAllow},

		// Architecture.
		{"hostile: a 32-bit entry (i386) is killed", unix.AUDIT_ARCH_I386, 26 /* i386 ptrace */, nil, retKill},
		{"hostile: another 64-bit architecture is killed even for read", otherArch, unix.SYS_READ, nil, retKill},
		{"hostile: an architecture one bit off is killed", auditArch ^ 1, unix.SYS_READ, nil, retKill},

		// clone and clone3.
		{"clone3 answers ENOSYS, whatever it asks", auditArch, unix.SYS_CLONE3, nil, retENOSYS},
		{"clone for a thread is allowed", auditArch, unix.SYS_CLONE, []uint32{unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND | unix.CLONE_THREAD | unix.CLONE_SYSVSEM | unix.CLONE_SETTLS | unix.CLONE_PARENT_SETTID | unix.CLONE_CHILD_CLEARTID}, retAllow},
		{"clone for a process (fork) is allowed", auditArch, unix.SYS_CLONE, []uint32{uint32(unix.SIGCHLD)}, retAllow},
		{"clone for posix_spawn (vfork) is allowed", auditArch, unix.SYS_CLONE, []uint32{unix.CLONE_VM | unix.CLONE_VFORK | uint32(unix.SIGCHLD)}, retAllow},
		{"hostile: clone into a new user namespace", auditArch, unix.SYS_CLONE, []uint32{unix.CLONE_NEWUSER}, retEPERM},
		{"hostile: clone into a new mount namespace", auditArch, unix.SYS_CLONE, []uint32{unix.CLONE_NEWNS | uint32(unix.SIGCHLD)}, retEPERM},
		{"hostile: clone into a new pid namespace", auditArch, unix.SYS_CLONE, []uint32{unix.CLONE_NEWPID}, retEPERM},
		{"hostile: clone into a new network namespace", auditArch, unix.SYS_CLONE, []uint32{unix.CLONE_NEWNET}, retEPERM},
		{"hostile: clone into a new uts namespace", auditArch, unix.SYS_CLONE, []uint32{unix.CLONE_NEWUTS}, retEPERM},
		{"hostile: clone into a new ipc namespace", auditArch, unix.SYS_CLONE, []uint32{unix.CLONE_NEWIPC}, retEPERM},
		{"hostile: clone into a new cgroup namespace", auditArch, unix.SYS_CLONE, []uint32{unix.CLONE_NEWCGROUP}, retEPERM},
		{"hostile: a namespace flag hidden among thread flags", auditArch, unix.SYS_CLONE, []uint32{unix.CLONE_VM | unix.CLONE_THREAD | unix.CLONE_SIGHAND | unix.CLONE_NEWUSER}, retEPERM},

		// socket.
		{"a TCP socket is allowed", auditArch, unix.SYS_SOCKET, []uint32{unix.AF_INET, unix.SOCK_STREAM | unix.SOCK_CLOEXEC, unix.IPPROTO_TCP}, retAllow},
		{"a TCP socket with protocol 0 is allowed", auditArch, unix.SYS_SOCKET, []uint32{unix.AF_INET6, unix.SOCK_STREAM, 0}, retAllow},
		{"a UDP socket is allowed (DNS)", auditArch, unix.SYS_SOCKET, []uint32{unix.AF_INET6, unix.SOCK_DGRAM | unix.SOCK_NONBLOCK, unix.IPPROTO_UDP}, retAllow},
		{"a Unix socket is allowed", auditArch, unix.SYS_SOCKET, []uint32{unix.AF_UNIX, unix.SOCK_STREAM | unix.SOCK_CLOEXEC, 0}, retAllow},
		{"hostile: a raw IPv4 socket", auditArch, unix.SYS_SOCKET, []uint32{unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_ICMP}, retEPERM},
		{"hostile: a raw socket behind SOCK_NONBLOCK and SOCK_CLOEXEC", auditArch, unix.SYS_SOCKET, []uint32{unix.AF_INET6, unix.SOCK_RAW | unix.SOCK_NONBLOCK | unix.SOCK_CLOEXEC, unix.IPPROTO_ICMPV6}, retEPERM},
		{"hostile: a packet socket of any type", auditArch, unix.SYS_SOCKET, []uint32{unix.AF_PACKET, unix.SOCK_DGRAM, 0}, retEPERM},
		{"hostile: a packet socket behind flags", auditArch, unix.SYS_SOCKET, []uint32{unix.AF_PACKET, unix.SOCK_RAW | unix.SOCK_CLOEXEC, 0x0300}, retEPERM},
		{"hostile: a vsock socket (a way to the virtual machine's host)", auditArch, unix.SYS_SOCKET, []uint32{unix.AF_VSOCK, unix.SOCK_STREAM, 0}, retEPERM},
		{"hostile: a vsock datagram socket behind flags", auditArch, unix.SYS_SOCKET, []uint32{unix.AF_VSOCK, unix.SOCK_DGRAM | unix.SOCK_CLOEXEC, 0}, retEPERM},
		{"hostile: a Multipath TCP socket", auditArch, unix.SYS_SOCKET, []uint32{unix.AF_INET, unix.SOCK_STREAM, ipprotoMPTCP}, retEPERM},
		{"hostile: a Multipath TCP IPv6 socket behind flags", auditArch, unix.SYS_SOCKET, []uint32{unix.AF_INET6, unix.SOCK_STREAM | unix.SOCK_CLOEXEC | unix.SOCK_NONBLOCK, ipprotoMPTCP}, retEPERM},
	}
	if x32Bit != 0 {
		cases = append(cases,
			c{"hostile: an x32 read is refused", auditArch, x32Bit | unix.SYS_READ, nil, retEPERM},
			c{"hostile: an x32 ptrace is refused", auditArch, x32Bit | unix.SYS_PTRACE, nil, retEPERM},
			c{"hostile: an x32 number far above is refused", auditArch, x32Bit | 0x1fff, nil, retEPERM},
		)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := run(c.arch, c.nr, c.args...); got != c.want {
				t.Errorf("arch %#x nr %d args %v: %#x, want %#x", c.arch, c.nr, c.args, got, c.want)
			}
		})
	}
}

// TestSeccompProgramShape: the architecture is checked before anything else,
// every jump lands inside the program (they are 8-bit offsets), and the
// program fits the kernel's limit.
func TestSeccompProgramShape(t *testing.T) {
	prog := filter()
	const ld = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
	if prog[0].Code != ld || prog[0].K != offArch {
		t.Errorf("the first instruction loads %#x at %d, not the architecture", prog[0].Code, prog[0].K)
	}
	if prog[2].Code != unix.BPF_RET|unix.BPF_K || prog[2].K != retKill {
		t.Errorf("a wrong architecture does not kill: %+v", prog[2])
	}
	if len(prog) > unix.BPF_MAXINSNS {
		t.Errorf("%d instructions, over the kernel's %d", len(prog), unix.BPF_MAXINSNS)
	}
	for i, f := range prog {
		if f.Code&0x07 != unix.BPF_JMP {
			continue
		}
		if op := f.Code & 0xf0; op == unix.BPF_JA {
			t.Errorf("instruction %d is an unconditional jump", i)
			continue
		}
		for _, off := range []uint8{f.Jt, f.Jf} {
			if i+1+int(off) >= len(prog) {
				t.Errorf("instruction %d jumps %d, past the end (%d)", i, off, len(prog))
			}
		}
	}
	if last := prog[len(prog)-1]; last.Code != unix.BPF_RET|unix.BPF_K {
		t.Errorf("the program ends with %+v, not a return", last)
	}
	// The calls with their own checks are not in the plain deny list, where
	// they would be refused whole.
	for _, nr := range []uintptr{unix.SYS_SOCKET, unix.SYS_CLONE, unix.SYS_CLONE3, unix.SYS_EXECVE, unix.SYS_READ} {
		if slices.Contains(deniedSyscalls, nr) {
			t.Errorf("syscall %d is denied whole", nr)
		}
	}
}
