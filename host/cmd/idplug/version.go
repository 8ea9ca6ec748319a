package main

import (
	"fmt"
	"io"
	"runtime"

	"github.com/idplug/idplug/internal/wire"
	"github.com/idplug/idplug/sdk"
)

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version = ""

func versionCmd(stdout io.Writer) int {
	fmt.Fprintf(stdout, "idplug %s (wire protocol %d, %s %s/%s)\n", sdk.BuildVersion(version), wire.ProtocolVersion, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return 0
}
