package main

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/internal/logtest"
)

// TestRemovedInstanceIsReleasedInNode: an instance removed by a reconfiguration has
// its connector object dropped by the bridge; the instance kept goes on serving; and
// a release when Node is not running does not start one.
func TestRemovedInstanceIsReleasedInNode(t *testing.T) {
	dir := noisyFolder(t)
	logs := logtest.New()
	h := openHostLogging(t, dir, hclog.New(&hclog.LoggerOptions{Name: "idplug", Level: hclog.Debug, Output: logs}))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	proc, _ := h.Plugin("logto-noisy-universal")

	configure := func(ids ...string) {
		t.Helper()
		var cfgs []host.InstanceConfig
		for _, id := range ids {
			cfgs = append(cfgs, host.InstanceConfig{ID: id, Plugin: "logto-noisy-universal", Config: mustJSON(t, map[string]any{"clientId": "c-" + id})})
		}
		if err := h.Configure(ctx, cfgs); err != nil {
			t.Fatalf("Configure: %v", err)
		}
	}
	authorize := func(id string) {
		t.Helper()
		if _, err := h.AuthorizationURI(ctx, id, callbackURL, "st-"+id); err != nil {
			t.Fatalf("AuthorizationURI %s: %v", id, err)
		}
	}
	configure("kept", "gone")
	authorize("kept")
	authorize("gone") // Node now holds a connector object for each
	configure("kept")
	logs.AwaitLine(ctx, t, "idplug-connector-logto-noisy: released instance gone in Node:", "instance=gone", "objects=1")
	if strings.Contains(logs.String(), "released instance kept") {
		t.Fatalf("the kept instance was released:\n%s", logs)
	}
	authorize("kept")

	// With Node killed, a release finds nothing to drop and starts no Node.
	node := children(proc.PID())
	if len(node) != 1 {
		t.Fatalf("plugin runs %v; want one Node", node)
	}
	if err := syscall.Kill(node[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitGone(t, node[0])
	configure()
	logs.AwaitLine(ctx, t, "Node is not running: nothing to release:", "instance=kept")
	if kids := children(proc.PID()); len(kids) != 0 {
		t.Fatalf("releasing started Node: the plugin runs %v", kids)
	}
}
