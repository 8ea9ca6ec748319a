package main

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/host/sandbox"
)

// TestSandboxKeepsNodeFromStarting records what idplug's sandbox does to the bridge
// today: with the bundle in sandbox.read the plugin starts and serves its metadata,
// and configuring an instance fails with an error that names Node's start, since
// Landlock lets the plugin execute nothing but its own file. When the sandbox can
// grant a plugin a program to execute, this test is to be turned around.
func TestSandboxKeepsNodeFromStarting(t *testing.T) {
	dir := productionFolder(t, "github")
	policy := sandbox.Policy{Read: map[string][]string{"logto-github": {
		filepath.Join(dir, bundleDirName), filepath.Join(dir, manifestName),
	}}}
	h, err := host.Open(context.Background(), host.Options{PluginDir: dir, Sandbox: policy})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	if !slices.Contains(h.Sandbox().Applied, sandbox.FeatureFS) {
		t.Skipf("this kernel has no Landlock file system rules (sandbox: %+v)", h.Sandbox())
	}
	if refused := h.Refused(); len(refused) > 0 {
		t.Fatalf("refused under the sandbox with the bundle readable: %+v", refused)
	}
	proc, ok := h.Plugin("logto-github-universal")
	if !ok || proc.Metadata().Name["en"] != "GitHub" {
		t.Fatal("the plugin does not serve its metadata under the sandbox")
	}
	err = h.Configure(context.Background(), []host.ConnectorConfig{{ID: "gh", Plugin: "logto-github-universal", Config: mustJSON(t, map[string]any{"clientId": "a", "clientSecret": "b"})}})
	if err == nil || !strings.Contains(err.Error(), "starting Node") {
		t.Fatalf("Configure under the sandbox = %v; want Node's start refused", err)
	}
	t.Logf("under the sandbox: %v", err)
}
