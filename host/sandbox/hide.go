package sandbox

import "golang.org/x/sys/unix"

// HideProcess marks the calling process as not dumpable: processes of the same
// user (a plugin among them) can then neither read its private /proc files (environ,
// mem, maps, fd) nor ptrace it. Call it once at the start of
// any command that starts plugins.
func HideProcess() error {
	return unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
}
