package sandbox

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// deniedSyscalls fail with EPERM in a plugin: none is needed to sign a user in,
// and each one reaches into other processes or the kernel (tracing, kernel
// modules, mounts, namespaces, keyrings, eBPF, perf, userfaultfd, the clock,
// the host name, the kernel log, io_uring). memfd_create too: a memfd lies
// beneath no Landlock rule, so a program written into one would run, where
// "runs only its own file" means its verified file. io_uring's file and
// network operations pass no system call seccomp could check, and its
// runtimes fall back to plain calls when it is refused (libuv, which Node
// runs on, does).
var deniedSyscalls = append([]uintptr{
	unix.SYS_PTRACE, unix.SYS_PROCESS_VM_READV, unix.SYS_PROCESS_VM_WRITEV,
	unix.SYS_PIDFD_GETFD, unix.SYS_PROCESS_MADVISE, unix.SYS_KCMP,
	unix.SYS_BPF, unix.SYS_PERF_EVENT_OPEN, unix.SYS_USERFAULTFD,
	unix.SYS_MOUNT, unix.SYS_UMOUNT2, unix.SYS_PIVOT_ROOT,
	unix.SYS_FSOPEN, unix.SYS_FSCONFIG, unix.SYS_FSMOUNT, unix.SYS_FSPICK,
	unix.SYS_MOVE_MOUNT, unix.SYS_OPEN_TREE, unix.SYS_MOUNT_SETATTR,
	unix.SYS_KEXEC_LOAD, unix.SYS_KEXEC_FILE_LOAD,
	unix.SYS_INIT_MODULE, unix.SYS_FINIT_MODULE, unix.SYS_DELETE_MODULE,
	unix.SYS_KEYCTL, unix.SYS_ADD_KEY, unix.SYS_REQUEST_KEY,
	unix.SYS_UNSHARE, unix.SYS_SETNS,
	unix.SYS_SWAPON, unix.SYS_SWAPOFF, unix.SYS_REBOOT,
	unix.SYS_MEMFD_CREATE,
	unix.SYS_CLOCK_SETTIME, unix.SYS_SETTIMEOFDAY, unix.SYS_ADJTIMEX, unix.SYS_CLOCK_ADJTIME,
	unix.SYS_SYSLOG, unix.SYS_SETHOSTNAME, unix.SYS_SETDOMAINNAME,
	unix.SYS_IO_URING_SETUP, unix.SYS_IO_URING_ENTER, unix.SYS_IO_URING_REGISTER,
}, archDeniedSyscalls...)

// namespaceFlags are the clone flags that make new namespaces, which unshare
// would make too.
const namespaceFlags = unix.CLONE_NEWNS | unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET |
	unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWCGROUP

// Offsets in struct seccomp_data; an argument's low 32 bits on a little-endian
// machine.
const (
	offNr   = 0
	offArch = 4
	offArg0 = 16
	offArg1 = 24
	offArg2 = 32
)

// ipprotoMPTCP is Multipath TCP, which Go's net.Listen uses by default and which
// Landlock's TCP bind restriction does not cover: refused, so Go falls back to
// plain TCP, which Landlock does restrict.
const ipprotoMPTCP = 262

func stmt(code uint16, k uint32) unix.SockFilter { return unix.SockFilter{Code: code, K: k} }

func jump(code uint16, k uint32, jt, jf uint8) unix.SockFilter {
	return unix.SockFilter{Code: code, Jt: jt, Jf: jf, K: k}
}

// filter is the seccomp program: other architectures (a 32-bit syscall entry
// on a 64-bit kernel) are killed, x32 numbers and the denied calls get EPERM,
// clone3 gets ENOSYS (its flags sit behind a pointer BPF cannot follow, and
// libcs then fall back to clone), clone with a namespace flag gets EPERM, and so
// do packet, vsock (a way out of a virtual machine to its host, past every
// network rule), raw and Multipath TCP sockets.
func filter() []unix.SockFilter {
	const (
		ld  = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		jge = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
		jst = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
		ret = unix.BPF_RET | unix.BPF_K
		and = unix.BPF_ALU | unix.BPF_AND | unix.BPF_K
	)
	allow := stmt(ret, unix.SECCOMP_RET_ALLOW)
	eperm := stmt(ret, unix.SECCOMP_RET_ERRNO|uint32(unix.EPERM))
	enosys := stmt(ret, unix.SECCOMP_RET_ERRNO|uint32(unix.ENOSYS))
	kill := stmt(ret, unix.SECCOMP_RET_KILL_PROCESS)

	head := []unix.SockFilter{
		stmt(ld, offArch),
		jump(jeq, auditArch, 1, 0),
		kill,
		stmt(ld, offNr),
	}
	socketChecks := []unix.SockFilter{
		stmt(ld, offArg0),
		jump(jeq, unix.AF_PACKET, 1, 0),
		jump(jeq, unix.AF_VSOCK, 0, 1),
		eperm,
		stmt(ld, offArg1),
		stmt(and, 0xf), // the type without SOCK_NONBLOCK and SOCK_CLOEXEC
		jump(jeq, unix.SOCK_RAW, 0, 1),
		eperm,
		stmt(ld, offArg2),
		jump(jeq, ipprotoMPTCP, 0, 1),
		eperm,
		allow,
	}
	return assemble(head, socketChecks, ld, jeq, jge, jst, allow, eperm, enosys)
}

// assemble appends the number checks to head. Targets: A allow, P eperm,
// N enosys, C the clone flags check, S the socket checks.
func assemble(head, socketChecks []unix.SockFilter, ld, jeq, jge, jst uint16, allow, eperm, enosys unix.SockFilter) []unix.SockFilter {
	type ins struct {
		f      unix.SockFilter
		jt, jf string // labels; "" falls through
	}
	var code []ins
	if x32Bit != 0 {
		code = append(code, ins{f: jump(jge, x32Bit, 0, 0), jt: "P"})
	}
	code = append(code, ins{f: jump(jeq, unix.SYS_SOCKET, 0, 0), jt: "S"})
	for _, nr := range deniedSyscalls {
		code = append(code, ins{f: jump(jeq, uint32(nr), 0, 0), jt: "P"})
	}
	code = append(code,
		ins{f: jump(jeq, unix.SYS_CLONE3, 0, 0), jt: "N"},
		ins{f: jump(jeq, unix.SYS_CLONE, 0, 0), jt: "C", jf: "A"},
	)
	labels := map[string]int{}
	tail := []unix.SockFilter{}
	labels["A"] = len(code) + len(tail)
	tail = append(tail, allow)
	labels["P"] = len(code) + len(tail)
	tail = append(tail, eperm)
	labels["N"] = len(code) + len(tail)
	tail = append(tail, enosys)
	labels["C"] = len(code) + len(tail)
	tail = append(tail,
		stmt(ld, offArg0),
		jump(jst, namespaceFlags, 0, 1),
		eperm,
		allow,
	)
	labels["S"] = len(code) + len(tail)
	tail = append(tail, socketChecks...)
	out := append([]unix.SockFilter{}, head...)
	for i, c := range code {
		f := c.f
		if c.jt != "" {
			f.Jt = uint8(labels[c.jt] - i - 1)
		}
		if c.jf != "" {
			f.Jf = uint8(labels[c.jf] - i - 1)
		}
		out = append(out, f)
	}
	return append(out, tail...)
}

// installSeccomp loads the filter on the calling thread (no_new_privs is set);
// exec from this thread keeps it.
func installSeccomp() error {
	prog := filter()
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	return unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&fprog)), 0, 0)
}
