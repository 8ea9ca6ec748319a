// Package gcpercent sets a process's garbage collector target (GOGC) unless its
// environment already does.
//
// idplug's processes (the host and every plugin) keep a few MiB of live memory and
// allocate for every call; at Go's default target of 100 they collect dozens of
// times a second under load. A higher target trades a few MiB of heap for that CPU
// (BENCHMARKS.md, "Runtime settings"). GOGC, when set, keeps the last word.
package gcpercent

import (
	"os"
	"runtime/debug"
)

// Set applies percent (see debug.SetGCPercent) unless GOGC is set to something
// (the runtime reads an empty GOGC as unset too), and reports whether it did.
func Set(percent int) bool {
	if os.Getenv("GOGC") != "" {
		return false
	}
	debug.SetGCPercent(percent)
	return true
}
