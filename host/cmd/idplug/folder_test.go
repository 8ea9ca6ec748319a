package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPluginFolderInsideAWorldWritableFolder: a plugin folder whose parent any
// user may write (without the sticky bit) is refused by the real binary, as
// sshd refuses such a path; with the sticky bit it is used.
func TestPluginFolderInsideAWorldWritableFolder(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "plugins")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(parent, 0o777); err != nil {
		t.Fatal(err)
	}
	out := runIdplugCommand(t, 1, "plugins", "--plugin-dir", dir)
	if !strings.Contains(out, "which every account may write without the sticky bit") {
		t.Fatalf("idplug plugins said: %s", out)
	}
	if err := os.Chmod(parent, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	runIdplugCommand(t, 0, "plugins", "--plugin-dir", dir)
}
