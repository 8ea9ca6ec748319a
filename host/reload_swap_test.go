package host_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/host/process"
	"github.com/idplug/idplug/internal/logtest"
	"github.com/idplug/idplug/internal/plugintest"
	"github.com/idplug/idplug/sdk"
)

// A replacement in the plugin folder is checked against the configuration
// of the connectors it will serve; a reload (Configure) that landed while it
// was being checked had the old process check the reload's configuration, and
// the new process, checked against the configuration before, took over one it
// refuses: every sign-in of the connector failed with invalid_config. The
// reload now waits for the replacement, and is checked by it.
func TestReloadDuringAReplacementsCheckIsCheckedByTheReplacement(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	h, old, rescans := replaceWhileChecking(ctx, t, "2s")
	// The reload the old version takes and the new one refuses.
	err := h.Configure(ctx, []host.InstanceConfig{{ID: "demo", Plugin: "example", Config: json.RawMessage(`{"mode":"ok"}`)}})
	if err == nil || !strings.Contains(err.Error(), "this version no longer takes mode ok") {
		t.Fatalf("the reload during the replacement's check: %v; want it refused by the replacement", err)
	}
	if now, _ := h.Plugin("example"); now == old {
		t.Fatal("the replacement did not take over")
	}
	// The connector serves, under the configuration the replacement took.
	if _, err := h.AuthorizationURI(ctx, "demo", "https://app.test/cb", "st"); err != nil {
		t.Errorf("a sign-in after the refused reload: %s", sdk.AsError(err).Code)
	}
	waitRescan(t, rescans)
}

// A reload waiting behind a replacement's check gives up when its context
// ends (idplug serve's SIGHUP reload at a SIGTERM), changing nothing, rather
// than holding up the shutdown for the check and then applying itself.
func TestReloadWaitingBehindAReplacementsCheckEndsWithItsCaller(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	h, _, rescans := replaceWhileChecking(ctx, t, "5s")
	short, stop := context.WithTimeout(ctx, 300*time.Millisecond)
	defer stop()
	err := h.Configure(short, []host.InstanceConfig{{ID: "other", Plugin: "example", Config: json.RawMessage(`{}`)}})
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "the configuration was not applied") {
		t.Fatalf("a reload whose caller gave up behind the check: %v", err)
	}
	waitRescan(t, rescans)
	if _, err := h.AuthorizationURI(ctx, "other", "https://app.test/cb", "st"); sdk.AsError(err).Code != host.CodeInstanceNotFound {
		t.Fatalf("the abandoned reload's connector: %v; want it unknown", err)
	}
	if _, err := h.AuthorizationURI(ctx, "demo", "https://app.test/cb", "st"); err != nil {
		t.Fatalf("the connector configured before: %v", err)
	}
}

// replaceWhileChecking configures connector "demo" on an old version of its
// plugin, then drops in the slowvet version, whose check of the running
// configuration takes vetDelay, and returns once that check has begun: the
// host, the old version's process, and the rescans' results.
func replaceWhileChecking(ctx context.Context, t *testing.T, vetDelay string) (*host.Host, *process.Process, chan error) {
	t.Helper()
	dir := plugintest.Folder(t)
	plugintest.Install(t, dir, plugintest.Binary(t, misbehavePkg), "example") // the old version
	newBin := plugintest.Binary(t, "./host/testdata/slowvet")
	logs, rescans := logtest.New(), make(chan error, 16)
	h := open(t, dir, host.Options{Watch: true, SettleTime: 100 * time.Millisecond, StartTimeout: 15 * time.Second,
		Logger: hclog.New(&hclog.LoggerOptions{Level: hclog.Info, Output: logs}), OnRescan: func(err error) { rescans <- err }})
	if err := h.Configure(ctx, []host.InstanceConfig{{ID: "demo", Plugin: "example", Config: json.RawMessage(`{"vetdelay":"` + vetDelay + `"}`)}}); err != nil {
		t.Fatal(err)
	}
	old, _ := h.Plugin("example")
	moveIn(t, dir, newBin, "example")
	logs.AwaitLine(ctx, t, "checking a configuration") // the replacement is being checked
	return h, old, rescans
}
