package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A bundle missing a file its digest list names says which: "lists 3858
// files, the bundle has 3857" had left the operator to find the one.
func TestIncompleteBundleNamesWhatIsMissing(t *testing.T) {
	plugins := t.TempDir()
	dir := filepath.Join(plugins, bundleDirName)
	files := map[string]string{"node": "an executable", "bridge.mjs": "the bridge", "lib/a.js": "a", "lib/b.js": "b"}
	var list []string
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(content))
		list = append(list, hex.EncodeToString(sum[:])+"  "+name)
	}
	if err := os.WriteFile(filepath.Join(plugins, manifestName), []byte(strings.Join(list, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := &bundle{pluginDir: plugins, dir: dir}
	if err := b.verify(); err != nil {
		t.Fatalf("the whole bundle: %v", err)
	}
	for _, gone := range []string{"node", "lib/b.js"} {
		if err := os.Remove(filepath.Join(dir, gone)); err != nil {
			t.Fatal(err)
		}
	}
	err := b.verify()
	if want := manifestName + " lists 2 files the bundle does not have (" + bundleDirName + "/lib/b.js first)"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("verify = %v, want %q", err, want)
	}
}
