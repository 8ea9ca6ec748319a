//go:build !logtotest

package main

import "path/filepath"

// bundleDirFor is the bundle beside the plugin file: nothing else in a production build.
func bundleDirFor(pluginDir string) string { return filepath.Join(pluginDir, bundleDirName) }

// testHosts is nil in every build but the tests': a production plugin has no way to
// point a connector's fixed https:// hosts elsewhere.
func testHosts(string) map[string]string { return nil }
