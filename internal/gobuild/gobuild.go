// Package gobuild runs `go build` the one way the repository builds its
// commands outside the race-instrumented tests: static (CGO_ENABLED=0) and with
// -trimpath, as the container images and `make build` do. One way means one set
// of compiled packages in Go's build cache: a machine that has never built
// idplug compiles them once for the plugins, idplug and the images, not once
// per way (each way was some 200 s of CPU). Build links each command once for
// all the test processes and runs that ask for it (cache.go).
package gobuild

import (
	"context"
	"os"
	"os/exec"
)

// Command is `go build -trimpath -ldflags=-w args...`, run in dir, static unless the
// environment sets CGO_ENABLED itself (a plugin that needs cgo: it then cannot
// run in the scratch-based image either).
func Command(ctx context.Context, dir string, args ...string) *exec.Cmd {
	// -ldflags=-w: no DWARF tables, some 40% of a link's CPU, which no test reads
	// (stack traces, race reports and profiles use Go's own symbol table). A
	// caller's own -ldflags replaces it.
	cmd := exec.CommandContext(ctx, "go", append([]string{"build", "-trimpath", "-ldflags=-w"}, args...)...)
	cmd.Dir = dir
	cmd.Env = os.Environ()
	if os.Getenv("CGO_ENABLED") == "" {
		cmd.Env = append(cmd.Env, "CGO_ENABLED=0")
	}
	return cmd
}
