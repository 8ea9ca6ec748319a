package main

import (
	"encoding/json"
	"path/filepath"
	"testing"
)

// A connector the operator removed (found hostile, say) keeps its sessions
// signed out when it is configured again, across restarts: here idplug stops,
// starts with a configuration without the connector, stops, and starts with
// it again. Only the running process had remembered a removal, so the
// sessions it made came back after the second start.
func TestRemovedConnectorsSessionsStaySignedOutAcrossRestarts(t *testing.T) {
	sp := startStateProvider(t)
	plugins := pluginFolder(t, "oauth2")
	with := stateConfig(t, sp, "sqlite:"+filepath.Join(t.TempDir(), "state.db"), vaultKeyA)
	var cfg map[string]any
	if err := json.Unmarshal([]byte(with), &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["connectors"] = []any{}
	without, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}

	p := startIdplug(t, plugins, with)
	session := browserSignIn(t, sp, p, p)
	if !signedIn(t, p, session) {
		t.Fatal("not signed in")
	}
	p.stop(t)

	p = startIdplug(t, plugins, string(without))
	if signedIn(t, p, session) {
		t.Fatal("signed in with a connector that is not configured")
	}
	p.stop(t)

	p = startIdplug(t, plugins, with)
	if signedIn(t, p, session) {
		t.Fatal("the session the removed connector made is signed in again after it came back")
	}
	fresh := browserSignIn(t, sp, p, p)
	if !signedIn(t, p, fresh) {
		t.Fatal("a session made after the connector came back is not signed in")
	}
	p.stop(t)
}
