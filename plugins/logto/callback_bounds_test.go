package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/idplug/idplug/sdk"
)

// TestCallbackFieldsAreBounded: every value of a callback is kept out of what
// the bridge says, one by one over the whole message, and a connector's guard
// quotes the whole callback in its error: thousands of short fields in one
// callback (within a 64 KiB URL) held Node, and every instance's calls with
// it, for seconds each. Past 64 fields the callback is refused before the
// connector sees it. And a short value found inside an earlier [redacted] no
// longer cuts it up.
func TestCallbackFieldsAreBounded(t *testing.T) {
	github := providerNamed(t, "github")
	h, _, c := startProvider(t, github)
	auth, cb := begin(t, h, github, c, "st-many-fields")
	for i := range 64 {
		cb[fmt.Sprintf("k%d", i)] = "abc"
	}
	res, err := h.UserInfo(context.Background(), "social", auth.Session, cb)
	if err == nil {
		t.Fatalf("a callback of 66 fields signed in as %q", res.UserInfo.ID)
	}
	wantCode(t, "a callback of 66 fields", err, sdk.CodeInvalidRequestParameters)
	if !strings.Contains(err.Error(), "the callback has 66 fields; at most 64") {
		t.Errorf("the refusal: %v", err)
	}

	// GitHub's guard refuses a callback without a code, quoting it whole.
	auth, cb = begin(t, h, github, c, "st-marks")
	delete(cb, "code")
	cb["id_token"] = "x"
	cb["a"], cb["b"] = "red", "act"
	_, err = h.UserInfo(context.Background(), "social", auth.Session, cb)
	if err == nil {
		t.Fatal("a callback without a code signed in")
	}
	msg := err.Error()
	if strings.Contains(msg, "[red[") || strings.Contains(msg, "ed]ed]") || strings.Contains(msg, `"red"`) || strings.Contains(msg, `"act"`) {
		t.Errorf("the error quotes a callback value, or cuts a mark up: %s", msg)
	}
}
