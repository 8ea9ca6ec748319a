//go:build logtotest

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
)

// What only the tests' build of the plugin (go build -tags logtotest) can do; make
// build never sets that tag, and nothing in a connector's configuration reaches it.

// testBundle, set with -ldflags "-X main.testBundle=DIR", is a bundle somewhere else
// than beside the plugin file, so that the test kit, which copies a plugin alone into
// a folder of its own, can run it.
var testBundle = ""

func bundleDirFor(pluginDir string) string {
	if testBundle != "" {
		return testBundle
	}
	return filepath.Join(pluginDir, bundleDirName)
}

// testHostsFile, in the plugin folder of a test, maps a connector's fixed https://
// hosts to the test's stub ("api.github.com": "http://127.0.0.1:41234").
const testHostsFile = "logto-test-hosts.json"

func testHosts(pluginDir string) map[string]string {
	m := map[string]string{}
	data, err := os.ReadFile(filepath.Join(pluginDir, testHostsFile))
	if err == nil {
		_ = json.Unmarshal(data, &m)
	}
	return m
}
