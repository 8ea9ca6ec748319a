// Command idplug-connector-oidc is idplug's OpenID Connect connector: sign-in with
// any OpenID Provider, found by discovery or configured endpoint by endpoint, with
// every ID token verified. Its configuration is that of Logto's OIDC connector, so a
// Logto configuration works unchanged; oidcconnector/README.md lists every field,
// including the presets for Google, Microsoft Entra ID and Apple. The connector
// itself lives in package oidcconnector, so it can also be called in process.
package main

import (
	"github.com/idplug/idplug/plugins/oidc/oidcconnector"
	"github.com/idplug/idplug/sdk"
)

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version = ""

func main() {
	oidcconnector.Version = sdk.BuildVersion(version)
	// One P while calls come one at a time, and a GC headroom for busy periods:
	// both measured to pay for the oauth2 plugin, whose calls this connector's
	// resemble (BENCHMARKS.md, "Runtime settings").
	sdk.Serve(oidcconnector.New(), sdk.WithAdaptiveProcs(true), sdk.WithGCHeadroom(sdk.DefaultGCHeadroom))
}
