package gobuild

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuildsStaticUnlessAsked: a command is built static, without the
// builder's paths, unless the environment asks for cgo.
func TestBuildsStaticUnlessAsked(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a command")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "fakeprovider")
	if msg, err := Command(context.Background(), "../..", "-o", out, "./sdk/connectortest/cmd/fakeprovider").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, msg)
	}
	info, err := exec.Command("go", "version", "-m", out).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath=true"} {
		if !strings.Contains(string(info), want) {
			t.Errorf("build settings lack %s:\n%s", want, info)
		}
	}
	t.Setenv("CGO_ENABLED", "1")
	if env := Command(context.Background(), ".").Env; strings.Contains(strings.Join(env, "\n"), "CGO_ENABLED=0") {
		t.Error("CGO_ENABLED=1 in the environment was overridden")
	}
}
