// Package sysmon keeps the Go runtime's monitor thread (sysmon) out of its deep
// sleep, in idplug serve and in the plugins it starts.
//
// When every P of a process is idle, sysmon sleeps until the next timer; the next
// system call wakes it, and it then polls every 20µs until the process is idle
// again. A sign-in crosses idplug, its plugin and the egress relay several times,
// so at light load each process goes idle and wakes up again many times a sign-in:
// sysmon's wake-ups were half of their context switches and a quarter of their
// CPU (BENCHMARKS.md, "The runtime's monitor, and no bandwidth probes"). The
// runtime has no setting for sysmon (golang/go#18236); the one thing that keeps it
// from its deep sleep is a scheduler trace, and a trace every 2^31-1 ms (24.8
// days) does that and prints little (Setting says what). Awake, sysmon backs off
// to one wake-up every 10ms while the process is idle: about 2ms of CPU a second,
// for each process.
//
// The runtime reads GODEBUG once, at start, so idplug serve executes itself again
// with the setting added (Reexec), and the host gives it to each plugin it starts
// (PluginGodebug; the sandbox's launcher passes it on to the plugin and runs with
// Go's default itself). A GODEBUG that already sets schedtrace is the operator's
// choice and is kept: schedtrace=0 gives Go's default behaviour back, to plugins too.
package sysmon

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Setting is the GODEBUG entry that keeps sysmon awake. Its side effects, all
// the runtime's: once the machine's monotonic clock (time since boot, less any
// suspend) passes 2^31-1 ms, 24.8 days, the process writes one scheduler line
// ("SCHED ...") to standard error, at start or when the clock gets there, and
// another 24.8 days after each; the line is written in pieces, so it may split a
// log line written at the same moment. And a fatal error first writes a scheduler
// dump (a line for each P, thread and goroutine) before its usual message.
const Setting = "schedtrace=2147483647"

// With returns the GODEBUG value a process should start with, given its current
// one: godebug itself when it sets schedtrace (as the runtime reads it),
// otherwise godebug with Setting added (last, so that it is the one taken).
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

// entry is the schedtrace entry of a GODEBUG value that the runtime would take,
// "" if none: as the runtime parses it, the key exactly (no spaces), a value that
// is a 32-bit integer, the last such entry.
func entry(godebug string) string {
	last := ""
	for f := range strings.SplitSeq(godebug, ",") {
		if k, v, ok := strings.Cut(f, "="); ok && k == "schedtrace" {
			if _, err := strconv.ParseInt(v, 10, 32); err == nil {
				last = f
			}
		}
	}
	return last
}

// Reexec replaces this process with a new run of its own executable, same
// arguments and environment, GODEBUG set by With, unless GODEBUG already sets
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
	err := syscall.Exec(executable(), os.Args, env)
	return errors.Join(errors.New("sysmon: execute again with GODEBUG="+next), err)
}

// executable is the path of the running executable: its own path while that
// is still the file running, so that the process keeps its name (an exec of
// /proc/self/exe names the process "exe"); /proc/self/exe otherwise (the file
// was replaced since, an upgrade in place), which is always the running one.
func executable() string {
	const self = "/proc/self/exe"
	path, err := os.Executable()
	if err != nil {
		return self
	}
	running, err1 := os.Stat(self)
	named, err2 := os.Stat(path)
	if err1 != nil || err2 != nil || !os.SameFile(running, named) {
		return self
	}
	return path
}
