package process

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/idplug/idplug/internal/plugintest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	plugintest.Cleanup()
	os.Exit(code)
}

// A file swapped in at the plugin's path after the host checked it never runs:
// the host executes the descriptor it checked, not the path.
func TestSwapBetweenCheckAndExecIsHarmless(t *testing.T) {
	dir := plugintest.Folder(t)
	path := plugintest.Install(t, dir, plugintest.Binary(t, "./plugins/example"), "example")
	intruder := plugintest.Install(t, t.TempDir(), plugintest.Binary(t, "./host/testdata/misbehave"), "intruder")
	swapped := false
	testHookVerified = func(p string) {
		if p != path {
			t.Errorf("verified %s, want %s", p, path)
		}
		staged := filepath.Join(dir, ".swap")
		if err := plugintest.CopyFile(intruder, staged, 0o755); err != nil {
			t.Error(err)
			return
		}
		if err := os.Rename(staged, path); err != nil {
			t.Error(err)
			return
		}
		swapped = true
	}
	t.Cleanup(func() { testHookVerified = nil })

	p, err := Start(context.Background(), "example", path, nil, Options{SocketDir: t.TempDir(), PluginDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if !swapped {
		t.Fatal("the file was not swapped")
	}
	// The intruder would call itself "Misbehave example".
	if name := p.Metadata().Name["en"]; name != "Example ID" {
		t.Fatalf("the swapped-in file ran: it is %q", name)
	}
}

// With SHA256SUMS, the digest is computed on the descriptor that runs: a file
// whose content changed is refused with the reason.
func TestChecksumIsCheckedOnTheFileThatRuns(t *testing.T) {
	dir := plugintest.Folder(t)
	path := plugintest.Install(t, dir, plugintest.Binary(t, "./plugins/example"), "example")
	wrong := make([]byte, 32)
	_, err := Start(context.Background(), "example", path, wrong, Options{SocketDir: t.TempDir(), PluginDir: dir})
	if err == nil || err.Error() != "plugin example: "+path+": checksum does not match SHA256SUMS (as it was when the folder was read)" {
		t.Fatalf("err = %v", err)
	}
}
