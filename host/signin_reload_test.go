package host_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/internal/plugintest"
	"github.com/idplug/idplug/sdk"
)

// A sign-in whose callback was with the plugin when a reload removed its
// connector is refused when the plugin answers: the profile comes from a
// connector the operator took away, and a session made from it, dated after
// the removal, served again once the id came back. A sign-in with a connector
// the reload kept finishes.
func TestASignInFinishingAfterItsConnectorWasRemovedIsRefused(t *testing.T) {
	dir := plugintest.Folder(t)
	plugintest.Install(t, dir, plugintest.Binary(t, misbehavePkg), "misbehave")
	h := open(t, dir, host.Options{StartTimeout: 15 * time.Second})
	ctx := context.Background()
	// Each callback is held until two are in.
	held := json.RawMessage(`{"mode":"helduserinfo","calls":2}`)
	kept := host.InstanceConfig{ID: "kept", Plugin: "misbehave", Config: held}
	if err := h.Configure(ctx, []host.InstanceConfig{{ID: "gone", Plugin: "misbehave", Config: held}, kept}); err != nil {
		t.Fatal(err)
	}
	callback := map[string]string{"code": "c", "state": "s"}
	gone := make(chan error, 1)
	go func() {
		_, err := h.UserInfo(ctx, "gone", sdk.Session{}, callback)
		gone <- err
	}()
	deadline := time.Now().Add(20 * time.Second)
	for inFlight(h, "misbehave") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the callback did not reach the plugin within 20s")
		}
		time.Sleep(5 * time.Millisecond) // no event says a call reached the plugin
	}

	if err := h.Configure(ctx, []host.InstanceConfig{kept}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.UserInfo(ctx, "kept", sdk.Session{}, callback); err != nil {
		t.Fatalf("the kept connector's sign-in: %v", err)
	}
	err := <-gone
	var e *sdk.Error
	if !errors.As(err, &e) || e.Code != host.CodeInstanceNotFound || !strings.Contains(e.Message, "removed while this sign-in finished") {
		t.Fatalf("the removed connector's sign-in: err = %v, want %s saying it was removed", err, host.CodeInstanceNotFound)
	}
}

func inFlight(h *host.Host, plugin string) int {
	for _, p := range h.Status().Plugins {
		if p.ID == plugin {
			return p.InFlight
		}
	}
	return 0
}
