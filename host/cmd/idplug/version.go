package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/idplug/idplug/internal/wire"
)

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version = ""

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func versionCmd(stdout io.Writer) int {
	fmt.Fprintf(stdout, "idplug %s (wire protocol %d, %s %s/%s)\n", versionString(), wire.ProtocolVersion, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return 0
}
