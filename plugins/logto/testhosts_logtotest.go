//go:build logtotest

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
)

// testHostsFile, in the plugin folder of a test, maps a connector's fixed https://
// hosts to the test's stub ("api.github.com": "http://127.0.0.1:41234"). Only a
// plugin built with the tag logtotest reads it; make build never sets that tag.
const testHostsFile = "logto-test-hosts.json"

func testHosts(pluginDir string) map[string]string {
	data, err := os.ReadFile(filepath.Join(pluginDir, testHostsFile))
	if err != nil {
		return map[string]string{}
	}
	m := map[string]string{}
	if err := json.Unmarshal(data, &m); err != nil {
		return map[string]string{}
	}
	return m
}

