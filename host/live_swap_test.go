package host_test

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/idplug/idplug/internal/plugintest"
)

// waitFolder waits until cond holds, as waitLive does, but takes a failed
// rescan in its stride: while a plugin folder is being replaced, a rescan may
// find no folder at its path.
func waitFolder(t *testing.T, rescans <-chan error, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-rescans:
		case <-tick.C:
		case <-deadline:
			t.Fatalf("after 30s: %s", what())
		}
	}
}

// A plugin folder replaced whole at its path (renamed away, another made in
// its place) is followed there, where every rescan reads: the watch had stayed
// on the folder that went away, and the new one's plugins never ran.
func TestLiveFolderReplacedWholeIsFollowed(t *testing.T) {
	h, dir, rescans := liveHost(t)
	if err := os.Rename(dir, dir+".old"); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	moveIn(t, dir, plugintest.Binary(t, examplePkg), "example")
	waitFolder(t, rescans, func() bool {
		_, example := h.Plugin("example")
		_, misbehave := h.Plugin("misbehave")
		return example && !misbehave
	}, func() string {
		return fmt.Sprintf("the new folder's plugins do not run (plugins %v, refused %v)", h.PluginIDs(), h.Refused())
	})

	// The new folder's changes are followed too.
	moveIn(t, dir, plugintest.Binary(t, misbehavePkg), "misbehave")
	waitFolder(t, rescans, func() bool { _, ok := h.Plugin("misbehave"); return ok },
		func() string {
			return fmt.Sprintf("a plugin added to the new folder does not run (refused %v)", h.Refused())
		})
}
