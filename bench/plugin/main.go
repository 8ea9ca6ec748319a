// Command plugin is the benchmark suite's connector plugin for the host start-up
// and runtime-settings measurements: the OAuth 2.0 connector
// (plugins/oauth2/oauth2connector) served by the SDK, whose metadata id is its file
// name without idplug-connector-, so that many copies can run in one plugin folder
// (copies of one binary with one id would be refused as duplicates).
//
// Installed as idplug-connector-oauth2rt-<variant>, it serves with the Go runtime
// settings the variant names, each set explicitly (BenchmarkPluginRuntimeSettings):
//
//	both     adaptive Ps and a GC headroom of sdk.DefaultGCHeadroom
//	noprocs  the GC headroom alone
//	gc100    adaptive Ps alone (Go's GC target of 100)
//	neither  Go's defaults
//
// Under any other name it serves with the SDK's defaults.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/idplug/idplug/plugins/oauth2/oauth2connector"
	"github.com/idplug/idplug/sdk"
)

// runtimePrefix starts the id of a runtime-settings variant.
const runtimePrefix = "oauth2rt-"

// variants are the ServeOptions of each runtime-settings variant.
var variants = map[string][]sdk.ServeOption{
	"both":    {sdk.WithAdaptiveProcs(true), sdk.WithGCHeadroom(sdk.DefaultGCHeadroom)},
	"noprocs": {sdk.WithAdaptiveProcs(false), sdk.WithGCHeadroom(sdk.DefaultGCHeadroom)},
	"gc100":   {sdk.WithAdaptiveProcs(true), sdk.WithGCPercent(100)},
	"neither": {sdk.WithAdaptiveProcs(false), sdk.WithGCPercent(100)},
}

// renamed is the OAuth 2.0 connector under another id.
type renamed struct {
	sdk.Connector[*oauth2connector.Instance]
	meta sdk.Metadata
}

func (r renamed) Metadata() sdk.Metadata { return r.meta }

func main() {
	id := strings.TrimPrefix(filepath.Base(os.Args[0]), "idplug-connector-")
	var opts []sdk.ServeOption
	if v, ok := strings.CutPrefix(id, runtimePrefix); ok {
		if opts, ok = variants[v]; !ok {
			fmt.Fprintf(os.Stderr, "bench plugin: unknown runtime variant %q (want both, noprocs, gc100 or neither)\n", v)
			os.Exit(1)
		}
	}
	sdk.Serve[*oauth2connector.Instance](renamed{oauth2connector.New(), sdk.Metadata{
		ID:          id,
		Target:      id,
		Platform:    sdk.PlatformUniversal,
		Name:        sdk.I18n{"en": "Benchmark " + id},
		Description: sdk.I18n{"en": "The OAuth 2.0 connector under another id, for benchmarks."},
		IsStandard:  true,
	}}, opts...)
}
