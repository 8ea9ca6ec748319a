// Command kitplugin serves kitconn's connector as a plugin, for the test kit's tests
// of Binary. It takes its defect from its file name: idplug-connector-kit-<defect>
// has that defect, idplug-connector-kit none.
package main

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/idplug/idplug/internal/kitconn"
	"github.com/idplug/idplug/sdk"
)

func main() {
	name := strings.TrimPrefix(filepath.Base(os.Args[0]), "idplug-connector-kit")
	sdk.Serve(kitconn.New(strings.TrimPrefix(name, "-")))
}
