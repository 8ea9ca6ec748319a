package main

// One process on SQLite: consumed flows live in memory, are saved at a
// graceful stop, and a crash (or a failed save) refuses what was sealed
// before the next start.

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
)

// TestSQLiteSingleUseAcrossRestarts: with SQLite, consumed flows live in memory;
// a replay is refused before a restart and after a graceful one, a flow started
// before a graceful restart finishes once, and one started before a crash is
// refused as expired, saying why.
func TestSQLiteSingleUseAcrossRestarts(t *testing.T) {
	sp := startStateProvider(t)
	plugins := pluginFolder(t, "oauth2")
	dbPath := filepath.Join(t.TempDir(), "state.db")
	cfg := stateConfig(t, sp, "sqlite:"+dbPath, vaultKeyA)
	userInfo := func(p *idplugProc, flow map[string]any) (int, string) {
		t.Helper()
		status, body := p.call(t, "POST", "/v1/connectors/acme/user-info", "", flow)
		code, _ := jsonPath(body, "code").(string)
		if code == "session_expired" && !strings.Contains(jsonPath(body, "message").(string), "restarted after an unclean stop") {
			t.Fatalf("session_expired without saying why: %v", body)
		}
		return status, code
	}
	want := func(what string, gotStatus int, gotCode string, status int, code string) {
		t.Helper()
		if gotStatus != status || gotCode != code {
			t.Fatalf("%s: %d %q, want %d %q", what, gotStatus, gotCode, status, code)
		}
	}

	p := startIdplug(t, plugins, cfg)
	finished := startAPIFlow(t, p, sp)
	s, c := userInfo(p, finished)
	want("first finish", s, c, 200, "")
	s, c = userInfo(p, finished)
	want("replay before a restart", s, c, 400, "session_used")
	pending := startAPIFlow(t, p, sp)
	p.stop(t)

	p = startIdplug(t, plugins, cfg)
	s, c = userInfo(p, finished)
	want("replay after a graceful restart", s, c, 400, "session_used")
	s, c = userInfo(p, pending)
	want("a flow started before a graceful restart", s, c, 200, "")
	s, c = userInfo(p, pending)
	want("its replay", s, c, 400, "session_used")

	beforeCrash := startAPIFlow(t, p, sp)
	p.cmd.Process.Kill()
	<-p.done
	p.cmd.Wait()

	p = startIdplug(t, plugins, cfg)
	s, c = userInfo(p, beforeCrash)
	want("a flow started before a crash", s, c, 400, "session_expired")
	s, c = userInfo(p, finished)
	want("a flow finished before a crash", s, c, 400, "session_expired")
	fresh := startAPIFlow(t, p, sp)
	s, c = userInfo(p, fresh)
	want("a flow after the crash", s, c, 200, "")
	s, c = userInfo(p, fresh)
	want("its replay", s, c, 400, "session_used")
}

// A graceful stop whose save of the consumed flows fails (another connection
// holds the SQLite file's write lock) says so in the log, and the next start
// treats it as a crash: nothing sealed before it is finished, not even a flow
// finished already.
func TestFailedSaveAtStopIsLoggedAndRefusesOlderFlows(t *testing.T) {
	sp := startStateProvider(t)
	plugins := pluginFolder(t, "oauth2")
	dbPath := filepath.Join(t.TempDir(), "state.db")
	cfg := stateConfig(t, sp, "sqlite:"+dbPath, vaultKeyA)

	p := startIdplug(t, plugins, cfg)
	finished := startAPIFlow(t, p, sp)
	if status, body := p.call(t, "POST", "/v1/connectors/acme/user-info", "", finished); status != 200 {
		t.Fatalf("first finish: %d %v", status, body)
	}
	pending := startAPIFlow(t, p, sp)

	db, err := sql.Open("sqlite", "file:"+dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(t.Context(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	p.stop(t)
	if _, err := conn.ExecContext(t.Context(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	logs := p.logs.String()
	if !strings.Contains(logs, "closing the store") || !strings.Contains(logs, "saving the consumed flows failed") {
		t.Fatalf("the failed save is not in the log:\n%s", logs)
	}

	p = startIdplug(t, plugins, cfg)
	for name, flow := range map[string]map[string]any{"a flow finished before the stop": finished, "a flow started before it": pending} {
		status, body := p.call(t, "POST", "/v1/connectors/acme/user-info", "", flow)
		if code, _ := jsonPath(body, "code").(string); status != 400 || code != "session_expired" {
			t.Errorf("%s: %d %v, want 400 session_expired", name, status, body)
		}
	}
}

// A user-info call whose callback is plainly incomplete (no data, a state
// without its code, a code without its state) is refused before the flow is
// spent: the client sends it again, whole, and signs in. It had spent the
// session ("the callback has no state parameter", then session_used).
func TestIncompleteCallbackKeepsTheSession(t *testing.T) {
	sp := startStateProvider(t)
	p := startIdplug(t, pluginFolder(t, "oauth2"), stateConfig(t, sp, "sqlite:"+filepath.Join(t.TempDir(), "state.db")))
	flow := startAPIFlow(t, p, sp)
	data := flow["data"].(map[string]string)
	for _, c := range []struct {
		name string
		body map[string]any
		says string
	}{
		{"no data", map[string]any{"session": flow["session"]}, "data is required"},
		{"a state without its code", map[string]any{"session": flow["session"], "data": map[string]string{"state": data["state"]}}, "data.code is required"},
		{"a code without its state", map[string]any{"session": flow["session"], "data": map[string]string{"code": data["code"]}}, "data.state is required"},
	} {
		status, body := p.call(t, "POST", "/v1/connectors/acme/user-info", "", c.body)
		if code, _ := jsonPath(body, "code").(string); status != 400 || code != "insufficient_request_parameters" ||
			!strings.Contains(jsonPath(body, "message").(string), c.says) || !strings.Contains(jsonPath(body, "message").(string), "nothing was spent") {
			t.Errorf("%s: %d %v", c.name, status, body)
		}
	}
	if status, body := p.call(t, "POST", "/v1/connectors/acme/user-info", "", flow); status != 200 {
		t.Fatalf("the whole callback after the incomplete ones: %d %v", status, body)
	}
	if status, body := p.call(t, "POST", "/v1/connectors/acme/user-info", "", flow); status != 400 || jsonPath(body, "code") != "session_used" {
		t.Fatalf("its replay: %d %v", status, body)
	}
}
