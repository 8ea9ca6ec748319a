package host_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/internal/plugintest"
)

// waitFolder waits until cond holds, as waitLive does, but takes a failed
// rescan in its stride: while a plugin folder is being replaced, a rescan may
// find no folder at its path.
func waitFolder(t *testing.T, rescans <-chan error, cond func() bool, what func() string) {
	t.Helper()
	waitRescans(t, rescans, cond, what, true)
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

// A replacement that refuses the configuration of a connector its plugin
// serves (a new version requiring a key the running file lacks) is refused,
// as one that does not start is, and the old process keeps serving: it had
// taken over, shown running and ready, and every sign-in of the connector
// failed with invalid_config.
func TestLiveFolderKeepsTheOldPluginWhenItsReplacementRefusesTheConfiguration(t *testing.T) {
	dir := plugintest.Folder(t)
	// The running version: misbehave under the example plugin's name (its id
	// follows its file name), which takes this configuration.
	plugintest.Install(t, dir, plugintest.Binary(t, misbehavePkg), "example")
	rescans := make(chan error, 16)
	h := open(t, dir, host.Options{Watch: true, SettleTime: 100 * time.Millisecond, StartTimeout: 15 * time.Second,
		OnRescan: func(err error) { rescans <- err }})
	ctx := context.Background()
	if err := h.Configure(ctx, []host.InstanceConfig{{ID: "demo", Plugin: "example", Config: json.RawMessage(`{"mode":"ok"}`)}}); err != nil {
		t.Fatal(err)
	}
	old, _ := h.Plugin("example")
	pid := old.PID()

	// The new version requires clientId and authorizationEndpoint.
	moveIn(t, dir, plugintest.Binary(t, examplePkg), "example")
	waitRescan(t, rescans)
	now, ok := h.Plugin("example")
	if !ok || now != old || now.PID() != pid {
		t.Fatal("a replacement that refuses the running configuration took over")
	}
	reason := refusedReason(h, "idplug-connector-example")
	for _, want := range []string{"refuses the running configuration", "connector demo", "config.clientId"} {
		if !strings.Contains(reason, want) {
			t.Errorf("refusal %q does not say %q", reason, want)
		}
	}
	if _, err := h.AuthorizationURI(ctx, "demo", "https://app.test/cb", "s"); err != nil {
		t.Fatalf("the connector, after its plugin's refused replacement: %v", err)
	}
}
