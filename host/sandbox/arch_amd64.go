package sandbox

import "golang.org/x/sys/unix"

const auditArch = unix.AUDIT_ARCH_X86_64

// x32Bit marks x32 system call numbers, which the filter refuses whole.
const x32Bit = 0x40000000

// archDeniedSyscalls are denied calls only this architecture has: I/O port
// access.
var archDeniedSyscalls = []uintptr{unix.SYS_IOPL, unix.SYS_IOPERM}
