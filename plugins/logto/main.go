// Command idplug-connector-logto-<name> runs one of Logto's npm social connectors
// (@logto/connector-<name>) unchanged, behind a bridge script in a Node child process.
//
// One executable serves every Logto connector: it is installed once per connector
// under the name idplug-connector-logto-<name> (hard links), and reads its own name
// to know which one it is. Beside it, the folder logto-bundle holds the Node binary,
// the bridge (bridge.mjs), the connectors' packages and a catalog of their metadata
// (connectors.json), and logto-bundle.sha256 lists the digest of every bundle file.
// Metadata comes from the catalog, so a plugin whose connector has no configured
// instance never starts Node.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/idplug/idplug/sdk"
)

// filePrefix starts the file name of every Logto bridge plugin.
const filePrefix = "idplug-connector-logto-"

func main() {
	c, err := newFromExecutable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "idplug logto plugin:", err)
		os.Exit(1)
	}
	// One P while calls come one at a time, and a GC headroom for busy periods, as
	// the other bundled plugins have them (measured on the oauth2 plugin:
	// BENCHMARKS.md, "Runtime settings").
	sdk.Serve[*instance](c, sdk.WithAdaptiveProcs(true), sdk.WithGCHeadroom(sdk.DefaultGCHeadroom))
}

// newFromExecutable finds the connector this file is named after, and the bundle beside it.
func newFromExecutable() (*connector, error) {
	name := strings.TrimPrefix(filepath.Base(os.Args[0]), filePrefix)
	if name == filepath.Base(os.Args[0]) || name == "" {
		return nil, fmt.Errorf("run as %s<name> (a Logto connector name such as github), not as %s", filePrefix, filepath.Base(os.Args[0]))
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	// Not filepath.EvalSymlinks: the bundle sits beside the file the host ran.
	dir := filepath.Dir(exe)
	if abs, err := filepath.Abs(os.Args[0]); err == nil && strings.ContainsRune(os.Args[0], filepath.Separator) {
		dir = filepath.Dir(abs)
	}
	b, err := openBundle(bundleDirFor(dir))
	if err != nil {
		return nil, err
	}
	entry, ok := b.catalog.Connectors[name]
	if !ok {
		return nil, fmt.Errorf("%s has no connector %q (it has %s); add one with scripts/add-logto-connector", b.catalogPath(), name, strings.Join(b.names(), ", "))
	}
	return newConnector(b, entry, testHosts(dir))
}
