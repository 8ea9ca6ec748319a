package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/idplug/idplug/internal/plugintest"
)

// TestBundleHoldsEveryBridgeModule: bridge.mjs imports its modules from beside it, so
// each one must be in the bundle, unchanged, and in the digest list the plugin checks
// before Node starts.
func TestBundleHoldsEveryBridgeModule(t *testing.T) {
	needBuild(t)
	root, err := plugintest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	modules, err := filepath.Glob(filepath.Join(root, "plugins", "logto", "bridge", "*.mjs"))
	if err != nil || len(modules) < 2 {
		t.Fatalf("the bridge's modules: %v (found %d)", err, len(modules))
	}
	manifest, err := os.ReadFile(filepath.Join(built.dir, manifestName))
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range modules {
		name := filepath.Base(src)
		want, err := fileDigest(src)
		if err != nil {
			t.Fatal(err)
		}
		got, err := fileDigest(filepath.Join(built.bundle, name))
		switch {
		case err != nil:
			t.Errorf("%s is not in the bundle: %v", name, err)
		case !bytes.Equal(got, want):
			t.Errorf("the bundle's %s differs from plugins/logto/bridge/%s", name, name)
		}
		if listed, ok := listedDigest(manifest, name); !ok || !bytes.Equal(listed, want) {
			t.Errorf("%s does not list %s with its digest", manifestName, name)
		}
	}
}
