package sdk

import "syscall"

// hideProcess makes the plugin process non-dumpable, as idplug makes itself:
// a plugin holds its instances' configuration (client secrets, keys) and the
// codes and tokens of the calls in flight, and a dumpable process can be read
// (/proc/PID/mem, environ) and traced by any process of its user. Under a
// root host's plugin_user that is every process of that account; a plugin in
// the user namespace of an unprivileged host stays readable by the namespace's
// owner, idplug's own account, which this cannot change (docs/security.md).
// Its own /proc/self stays its own.
func hideProcess() {
	const prSetDumpable = 4 // PR_SET_DUMPABLE, <linux/prctl.h>
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, prSetDumpable, 0, 0)
}
