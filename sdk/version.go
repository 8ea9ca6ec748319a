package sdk

import "runtime/debug"

// BuildVersion is the version to report for the running program: stamped when it
// is set (go build -ldflags "-X main.version=v1.2.3"), else the main module's version
// when the binary was built from a tagged module (go install ...@v1.2.3), else "dev".
func BuildVersion(stamped string) string {
	if stamped != "" {
		return stamped
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}
