// Command idplug-connector-github signs users in with GitHub, or with GitHub
// Enterprise Server. It is built with the SDK's oauth2kit, and is the connector the
// authors' guide (docs/connector-authors.md) walks through: start from it when your
// provider is not a standard OAuth 2.0 one.
package main

import (
	"github.com/idplug/idplug/sdk"
)

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version = ""

func main() {
	// One P while calls come one at a time, and a GC headroom for busy periods:
	// both measured to pay for the oauth2 plugin, whose calls this connector's
	// resemble (BENCHMARKS.md, "Runtime settings").
	sdk.Serve(connector{}, sdk.WithAdaptiveProcs(true), sdk.WithGCHeadroom(sdk.DefaultGCHeadroom))
}

// userAgent names the connector to GitHub, whose API refuses requests without one.
func userAgent() string { return "idplug-github/" + sdk.BuildVersion(version) }
