package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/sdk"
)

// TestLargeRequestsLeaveNodeServing: the bridge reads a request line of at most
// 4 MiB and exits on a longer one, failing every call in flight, other
// instances' too. A request past the limit (a callback of 1 MiB of control
// characters, six bytes each in JSON) is that call's error, naming the size,
// and never reaches Node: the same Node serves on.
func TestLargeRequestsLeaveNodeServing(t *testing.T) {
	dir := noisyFolder(t)
	h := openHost(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	proc, _ := h.Plugin("logto-noisy-universal")
	if err := h.Configure(ctx, []host.InstanceConfig{
		{ID: "small", Plugin: "logto-noisy-universal", Config: mustJSON(t, map[string]any{"clientId": "c-small"})},
		{ID: "other", Plugin: "logto-noisy-universal", Config: mustJSON(t, map[string]any{"clientId": "c-other"})},
	}); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	auth, err := h.AuthorizationURI(ctx, "small", callbackURL, "st-small")
	if err != nil {
		t.Fatalf("AuthorizationURI: %v", err)
	}
	node := children(proc.PID())
	if len(node) != 1 {
		t.Fatalf("plugin runs %v; want one Node", node)
	}
	_, err = h.UserInfo(ctx, "small", auth.Session, map[string]string{"state": "st-small", "code": strings.Repeat("\x01", 1<<20)})
	var se *sdk.Error
	if !errors.As(err, &se) || se.Code != sdk.CodeInvalidRequestParameters || !strings.Contains(se.Message, "over its limit of 4194304") {
		t.Fatalf("a callback of 6 MiB in JSON: %v; want invalid_request_parameters naming the limit", err)
	}
	if _, err := h.AuthorizationURI(ctx, "other", callbackURL, "st-other"); err != nil {
		t.Fatalf("AuthorizationURI after the refused call: %v", err)
	}
	if now := children(proc.PID()); len(now) != 1 || now[0] != node[0] {
		t.Fatalf("Node was %v and is %v: the large request ended it", node, now)
	}
}
