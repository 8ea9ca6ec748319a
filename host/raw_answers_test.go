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

// rawAnswersPkg is a plugin written without the SDK, which sends answers the
// SDK refuses to send (see its doc comment).
const rawAnswersPkg = "./host/testdata/rawanswers"

// A plugin that skips the SDK can leave out what the host reads of an answer:
// a GetUserInfo without a profile (read through a nil pointer: the request's
// handler panicked, with the sign-in spent), a profile without an id (every
// such sign-in the same user's), a RefreshTokens of no tokens and no error
// (a nil token set, which ended idplug's process in the vault). Each is the
// plugin's invalid_response, naming it and the call, and the host serves on.
func TestAnswersMissingWhatTheHostReadsAreRefused(t *testing.T) {
	dir := plugintest.Folder(t)
	plugintest.Install(t, dir, plugintest.Binary(t, rawAnswersPkg), "raw")
	h := open(t, dir, host.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var configs []host.InstanceConfig
	for _, mode := range []string{"noprofile", "noid", "ok"} {
		cfg, _ := json.Marshal(map[string]string{"mode": mode})
		configs = append(configs, host.InstanceConfig{ID: mode, Plugin: "raw", Config: cfg})
	}
	if err := h.Configure(ctx, configs); err != nil {
		t.Fatal(err)
	}
	invalid := func(what string, err error, want string) {
		t.Helper()
		var e *sdk.Error
		if !errors.As(err, &e) || e.Code != sdk.CodeInvalidResponse || !strings.Contains(e.Message, "plugin raw answered "+want) {
			t.Errorf("%s: %v; want invalid_response, %q", what, err, "plugin raw answered "+want)
		}
	}
	for id, want := range map[string]string{"noprofile": "GetUserInfo with no profile", "noid": "GetUserInfo with a profile without an id"} {
		auth, err := h.AuthorizationURI(ctx, id, "https://app.test/cb", "st")
		if err != nil {
			t.Fatal(err)
		}
		res, err := h.UserInfo(ctx, id, auth.Session, map[string]string{"code": "c", "state": "st"})
		invalid(id+": UserInfo = "+jsonOf(res), err, want)
	}
	ts, err := h.RefreshTokens(ctx, "ok", "rt")
	invalid("RefreshTokens = "+jsonOf(ts), err, "RefreshTokens with no token set")
	// And the plugin, and the host, serve on.
	auth, err := h.AuthorizationURI(ctx, "ok", "https://app.test/cb", "st")
	if err != nil {
		t.Fatal(err)
	}
	if res, err := h.UserInfo(ctx, "ok", auth.Session, map[string]string{"code": "c", "state": "st"}); err != nil || res.UserInfo.ID != "ann" {
		t.Fatalf("a sound answer afterwards: %+v, %v", res, err)
	}
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
