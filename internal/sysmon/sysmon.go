// Package sysmon keeps the Go runtime's monitor thread (sysmon) out of its deep
// sleep, in idplug serve and in the plugins it starts.
//
// When every P of a process is idle, sysmon sleeps until the next timer; the next
// system call wakes it, and it then polls every 20µs until the process is idle
// again. A sign-in crosses idplug, its plugin and the egress relay several times,
// so at light load each process goes idle and wakes up again many times a sign-in:
// sysmon's wake-ups were half of their context switches and a quarter of their CPU
// (BENCHMARKS.md, "The runtime's monitor"). The runtime has no setting for sysmon
// (golang/go#18236); the one thing that keeps it from its deep sleep is a scheduler
// trace, and a trace every 2^31-1 ms (24.8 days) does that and prints next to
// nothing. Awake, sysmon backs off to one wake-up every 10ms while the process is
// idle: about 2ms of CPU a second, for each process.
//
// The runtime reads GODEBUG once, at start, so idplug serve executes itself again
// with the setting added (Reexec), and the host gives it to each plugin it starts
// (PluginGodebug). A GODEBUG that already names schedtrace is the operator's
// choice and is kept: schedtrace=0 gives Go's default behaviour back, to plugins too.
package sysmon

import (
	"errors"
	"os"
	"strings"
	"syscall"
)

// Setting is the GODEBUG entry that keeps sysmon awake. The runtime prints one
// scheduler line to standard error each time the machine's monotonic clock
// (time since boot) passes a multiple of it: on a machine up for more than 24.8
// days, once when the process starts and every 24.8 days after.
const Setting = "schedtrace=2147483647"

// With returns the GODEBUG value a process should start with, given its current
// one: godebug itself when it names schedtrace, otherwise godebug with Setting added.
func With(godebug string) string {
	if entry(godebug) != "" {
		return godebug
	}
	if godebug == "" {
		return Setting
	}
	return godebug + "," + Setting
}

// PluginGodebug is the GODEBUG value for a plugin of a host whose own GODEBUG is
// godebug: the host's schedtrace entry if it has one, Setting otherwise. Nothing
// else of the host's GODEBUG goes to its plugins.
func PluginGodebug(godebug string) string {
	if e := entry(godebug); e != "" {
		return e
	}
	return Setting
}

// entry is the schedtrace entry of a GODEBUG value, "" if none. The runtime takes
// the last of several.
func entry(godebug string) string {
	last := ""
	for f := range strings.SplitSeq(godebug, ",") {
		if k, _, ok := strings.Cut(f, "="); ok && strings.TrimSpace(k) == "schedtrace" {
			last = f
		}
	}
	return last
}

// Reexec replaces this process with a new run of its own executable, same
// arguments and environment, GODEBUG set by With, unless GODEBUG already names
// schedtrace. It returns only if nothing was to be done (nil) or the exec failed;
// the process then goes on with Go's default monitor. Call it first thing, before
// anything a new run would repeat or undo (a non-dumpable mark is reset by exec).
func Reexec() error {
	godebug := os.Getenv("GODEBUG")
	next := With(godebug)
	if next == godebug {
		return nil
	}
	env := []string{"GODEBUG=" + next}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GODEBUG=") {
			env = append(env, kv)
		}
	}
	// /proc/self/exe is the running executable, even if its path was replaced
	// since it started (an upgrade in place).
	err := syscall.Exec("/proc/self/exe", os.Args, env)
	return errors.Join(errors.New("sysmon: execute again with GODEBUG="+next), err)
}
