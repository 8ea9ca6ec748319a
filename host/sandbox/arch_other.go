//go:build !amd64 && !arm64

package sandbox

// auditArch 0: no seccomp program is written for this architecture, so Detect
// reports seccomp as missing and the rest of the sandbox still applies.
const auditArch = 0

const x32Bit = 0

var archDeniedSyscalls []uintptr
