package suite

import (
	"context"
	"os"
	"path/filepath"

	"github.com/idplug/idplug/internal/gobuild"
	"github.com/idplug/idplug/internal/plugintest"
)

// Environment variables through which the suite's driver hands its binaries to the
// `go test -bench` benchmarks, so that both measure the same builds.
const (
	// EnvOAuth2Plugin is the path of the built oauth2 plugin (idplug-connector-oauth2).
	EnvOAuth2Plugin = "IDPLUG_BENCH_OAUTH2_PLUGIN"
	// EnvOIDCPlugin is the path of the built oidc plugin (idplug-connector-oidc).
	EnvOIDCPlugin = "IDPLUG_BENCH_OIDC_PLUGIN"
	// EnvBenchPlugin is the path of the built bench/plugin command.
	EnvBenchPlugin = "IDPLUG_BENCH_PLUGIN"
)

// GoBuild builds the command at pkg (relative to the repository root root) into
// out.
func GoBuild(root, pkg, out string) error {
	return gobuild.Build(context.Background(), root, pkg, out)
}

// PluginFolder makes dir a plugin folder holding src as idplug-connector-<name> for
// each name.
func PluginFolder(dir, src string, names ...string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	for _, name := range names {
		if err := plugintest.CopyFile(src, filepath.Join(dir, "idplug-connector-"+name), 0o755); err != nil {
			return err
		}
	}
	return nil
}
