// Command idplug-connector-oauth2 is idplug's generic OAuth 2.0 connector: sign-in
// with any provider that offers the authorization code flow and a userinfo endpoint.
// Its configuration is that of Logto's "OAuth standard" connector, so a Logto
// configuration works unchanged; oauth2connector/README.md lists every field. The
// connector itself lives in package oauth2connector, so it can also be called in
// process.
package main

import (
	"github.com/idplug/idplug/plugins/oauth2/oauth2connector"
	"github.com/idplug/idplug/sdk"
)

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version = ""

func main() {
	oauth2connector.Version = sdk.BuildVersion(version)
	// One P while calls come one at a time, and a GC headroom for busy periods:
	// both measured to pay for this plugin (BENCHMARKS.md, "Runtime settings").
	sdk.Serve(oauth2connector.New(), sdk.WithAdaptiveProcs(true), sdk.WithGCHeadroom(sdk.DefaultGCHeadroom))
}
