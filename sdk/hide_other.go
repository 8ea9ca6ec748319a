//go:build !linux

package sdk

// hideProcess does nothing where idplug's host does not run (it is Linux
// only): a plugin built there serves its tests.
func hideProcess() {}
