package main

import (
	"context"
	"strings"
	"testing"

	"github.com/idplug/idplug/sdk"
)

// TestLongCallbackValueDoesNotHoldNode: scrub.mjs drops URL query strings from a
// message with /([a-z][a-z0-9+.-]*:\/\/[^\s"'?#<>]*)[?#].../gi before it redacts
// the call's values, and that expression backtracked quadratically over a run of
// letters that holds no "://": every letter started a match that ran to the end of
// the run. GitHub's guard quotes the whole callback in its error when the callback
// has no code (the bridge lets one with an id_token through), so any browser with a
// sign-in of its own held Node's one event loop, and every call of every instance
// of the connector with it: 64 KB of letters took 3.6 s, and the megabyte here ran
// into the call's deadline (provider_timeout), Node then replaced. Now the
// connector's own refusal comes back, and Node serves the next call.
func TestLongCallbackValueDoesNotHoldNode(t *testing.T) {
	github := providerNamed(t, "github")
	h, _, c := startProvider(t, github)
	ctx := context.Background()

	// Warm: Node is started and the connector object made.
	auth, cb := begin(t, h, github, c, "st-scrub-warm")
	if _, err := h.UserInfo(ctx, "social", auth.Session, cb); err != nil {
		t.Fatalf("the first sign-in: %v", err)
	}

	auth, cb = begin(t, h, github, c, "st-scrub-long")
	delete(cb, "code")
	cb["id_token"] = "x"
	cb["a"] = strings.Repeat("a", 1<<20)
	_, err := h.UserInfo(ctx, "social", auth.Session, cb)
	if e := sdk.AsError(err); err == nil || e.Code == sdk.CodeProviderTimeout || len(e.Message) > 1024 {
		t.Fatalf("a callback without a code and with a megabyte of letters: %v; want the connector's refusal, bounded, not the deadline", err)
	}
	// The value the connector quotes is the call's own: redacted whole, however
	// long (a cut before the redaction had let its first 300 letters through).
	if msg := sdk.AsError(err).Message; strings.Contains(msg, strings.Repeat("a", 16)) || !strings.Contains(msg, "[redacted]") {
		t.Fatalf("the refusal quotes the callback's value: %.200s", msg)
	}
	if _, err := h.AuthorizationURI(ctx, "social", callbackURL, "st-scrub-other"); err != nil {
		t.Fatalf("the next sign-in: %v", err)
	}
}
