//go:build !amd64

package sandbox

var archDeniedByName = map[string]uintptr{}
