// Command plugin is the benchmark suite's connector plugin for the host start-up
// measurements: the OAuth 2.0 connector (plugins/oauth2/connector) served by the SDK,
// whose metadata id is its file name without idplug-connector-, so that many copies
// can run in one plugin folder (copies of one binary with one id would be refused as
// duplicates).
package main

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/idplug/idplug/plugins/oauth2/connector"
	"github.com/idplug/idplug/sdk"
)

// renamed is the OAuth 2.0 connector under another id.
type renamed struct {
	sdk.Connector[*connector.Instance]
	meta sdk.Metadata
}

func (r renamed) Metadata() sdk.Metadata { return r.meta }

func main() {
	id := strings.TrimPrefix(filepath.Base(os.Args[0]), "idplug-connector-")
	sdk.Serve[*connector.Instance](renamed{connector.New(), sdk.Metadata{
		ID:          id,
		Target:      id,
		Platform:    sdk.PlatformUniversal,
		Name:        sdk.I18n{"en": "Benchmark " + id},
		Description: sdk.I18n{"en": "The OAuth 2.0 connector under another id, for benchmarks."},
		IsStandard:  true,
	}})
}
