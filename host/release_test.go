package host_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/internal/logtest"
	"github.com/idplug/idplug/internal/plugintest"
)

// debugHost runs one plugin under a host that logs at debug into a log the test reads.
func debugHost(t *testing.T, pkg, name string) (*host.Host, *logtest.Log) {
	t.Helper()
	dir := plugintest.Folder(t)
	plugintest.Install(t, dir, plugintest.Binary(t, pkg), name)
	logs := logtest.New()
	return open(t, dir, host.Options{Logger: hclog.New(&hclog.LoggerOptions{Name: "idplug", Level: hclog.Debug, Output: logs})}), logs
}

// A reconfiguration tells the plugin which instances it no longer serves: removed
// ones, and changed ones under their old version; the kept one stays usable.
func TestReconfigureReleasesRemovedAndChangedInstances(t *testing.T) {
	h, logs := debugHost(t, misbehavePkg, "misbehave")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	ok := json.RawMessage(`{"mode":"ok"}`)
	if err := h.Configure(ctx, []host.InstanceConfig{
		{ID: "kept", Plugin: "misbehave", Config: ok},
		{ID: "gone", Plugin: "misbehave", Config: ok},
		{ID: "changed", Plugin: "misbehave", Config: ok},
	}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"kept", "gone", "changed"} {
		if _, err := h.AuthorizationURI(ctx, id, "https://app.test/cb", "s"); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.Configure(ctx, []host.InstanceConfig{
		{ID: "kept", Plugin: "misbehave", Config: ok},
		{ID: "changed", Plugin: "misbehave", Config: json.RawMessage(`{"mode":"logs"}`)},
	}); err != nil {
		t.Fatal(err)
	}
	plugin := "idplug.plugin.misbehave.idplug-connector-misbehave: "
	logs.AwaitLine(ctx, t, plugin+"released instance gone:", "instance=gone", "mode=ok")
	// The changed instance is released with its old configuration.
	logs.AwaitLine(ctx, t, plugin+"released instance changed:", "instance=changed", "mode=ok")
	logs.AwaitAll(ctx, t, `idplug: released instances: plugin=misbehave instances=["changed", "gone"]`)
	if strings.Contains(logs.String(), "released instance kept") {
		t.Fatalf("an unchanged instance was released:\n%s", logs)
	}

	// The removed instance is gone; the changed one serves its new configuration,
	// which the plugin still holds.
	if _, err := h.AuthorizationURI(ctx, "gone", "https://app.test/cb", "s"); codeOf(err) != host.CodeInstanceNotFound {
		t.Fatalf("gone: err = %v", err)
	}
	if _, err := h.AuthorizationURI(ctx, "changed", "https://app.test/cb", "s"); err != nil {
		t.Fatal(err)
	}
	logs.AwaitLine(ctx, t, "misbehave warning line:", "instance=changed")

	// Configuring the removed instance again, with the configuration it had, works:
	// the host resends the configuration the plugin dropped.
	if err := h.Configure(ctx, []host.InstanceConfig{{ID: "gone", Plugin: "misbehave", Config: ok}}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.AuthorizationURI(ctx, "gone", "https://app.test/cb", "s"); err != nil {
		t.Fatal(err)
	}
	logs.AwaitLine(ctx, t, plugin+"released instance kept:", "mode=ok")
	logs.AwaitLine(ctx, t, plugin+"released instance changed:", "mode=logs")
}

// A plugin whose Release never returns delays neither the reconfiguration nor the
// calls after it, and the host still closes.
func TestHangingReleaseBlocksNothing(t *testing.T) {
	h, logs := debugHost(t, misbehavePkg, "misbehave")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	ok := host.InstanceConfig{ID: "ok", Plugin: "misbehave", Config: json.RawMessage(`{"mode":"ok"}`)}
	if err := h.Configure(ctx, []host.InstanceConfig{ok, {ID: "stuck", Plugin: "misbehave", Config: json.RawMessage(`{"mode":"hang"}`)}}); err != nil {
		t.Fatal(err)
	}
	if err := h.Configure(ctx, []host.InstanceConfig{ok}); err != nil {
		t.Fatal(err)
	}
	logs.AwaitAll(ctx, t, "release hangs for stuck")
	// The release is stuck in the plugin now; everything else goes on.
	if err := h.Configure(ctx, []host.InstanceConfig{ok, {ID: "more", Plugin: "misbehave", Config: json.RawMessage(`{"mode":"ok"}`)}}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"ok", "more"} {
		if _, err := h.AuthorizationURI(ctx, id, "https://app.test/cb", "s"); err != nil {
			t.Fatalf("%s while a release hangs: %v", id, err)
		}
	}
}

// A plugin built before ReleaseInstances answers UNIMPLEMENTED; the host logs that at
// debug and goes on serving it.
func TestOlderPluginWithoutReleaseIsTolerated(t *testing.T) {
	h, logs := debugHost(t, olderPkg, "older")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	cfg := func(id string) host.InstanceConfig {
		return host.InstanceConfig{ID: id, Plugin: "older", Config: json.RawMessage(`{"clientSecret":"s3cret-value"}`)}
	}
	if err := h.Configure(ctx, []host.InstanceConfig{cfg("kept"), cfg("gone")}); err != nil {
		t.Fatal(err)
	}
	if err := h.Configure(ctx, []host.InstanceConfig{cfg("kept")}); err != nil {
		t.Fatal(err)
	}
	logs.AwaitAll(ctx, t, "[DEBUG] idplug: plugin does not take instance releases; it keeps what it held: plugin=older")
	if _, err := h.AuthorizationURI(ctx, "kept", "https://app.test/cb", "s"); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "s3cret-value") {
		t.Fatalf("a configuration value reached the log:\n%s", logs)
	}
}
