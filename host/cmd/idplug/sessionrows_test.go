package main

import (
	"database/sql"
	"encoding/json"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/idplug/idplug/internal/pgtest"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"
)

// Browser sessions are sealed rows: someone who can write the store (a backup
// restored by hand, a compromised database account) can neither edit a session
// nor move one to another id. Tested on a real SQLite file and a real PostgreSQL,
// written behind the running idplug's back.

func TestSessionRowsSealedSQLite(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "state.db")
	sp := startStateProvider(t)
	p := startIdplug(t, pluginFolder(t, "oauth2"), stateConfig(t, sp, "sqlite:"+dbPath, vaultKeyA))
	db, err := sql.Open("sqlite", "file:"+dbPath+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	checkSessionRowsSealed(t, sp, p, db, "?")
}

func TestSessionRowsSealedPostgres(t *testing.T) {
	pg := pgtest.Start(t)
	sp := startStateProvider(t)
	p := startIdplug(t, pluginFolder(t, "oauth2"), stateConfig(t, sp, pg.URL, vaultKeyA))
	db, err := sql.Open("pgx", pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	checkSessionRowsSealed(t, sp, p, db, "$")
}

// checkSessionRowsSealed signs a browser in twice, then moves, edits and forges
// rows in db (placeholders "?" or "$1"-style) and checks /user refuses each.
func checkSessionRowsSealed(t *testing.T, sp *stateProvider, p *idplugProc, db *sql.DB, ph string) {
	t.Helper()
	q := func(query string) string {
		if ph == "$" {
			query = strings.Replace(query, "?", "$1", 1)
			query = strings.Replace(query, "?", "$2", 1)
		}
		return query
	}
	rows := func() map[string][]byte {
		t.Helper()
		r, err := db.QueryContext(t.Context(), "SELECT id, data FROM user_sessions")
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		out := map[string][]byte{}
		for r.Next() {
			var id string
			var data []byte
			if err := r.Scan(&id, &data); err != nil {
				t.Fatal(err)
			}
			out[id] = data
		}
		return out
	}
	newRow := func(before map[string][]byte) string {
		t.Helper()
		for id := range rows() {
			if _, ok := before[id]; !ok {
				return id
			}
		}
		t.Fatal("the sign-in stored no session row")
		return ""
	}
	set := func(id string, data []byte) {
		t.Helper()
		if _, err := db.ExecContext(t.Context(), q("UPDATE user_sessions SET data = ? WHERE id = ?"), data, id); err != nil {
			t.Fatal(err)
		}
	}
	user := func(c *http.Cookie) (int, map[string]any) {
		t.Helper()
		resp, body := get(t, p.URL+"/user", c)
		var out map[string]any
		_ = json.Unmarshal(body, &out)
		return resp.StatusCode, out
	}

	before := rows()
	cookieA := browserSignIn(t, sp, p, p)
	idA := newRow(before)
	before = rows()
	cookieB := browserSignIn(t, sp, p, p)
	idB := newRow(before)
	all := rows()
	for _, id := range []string{idA, idB} {
		if strings.Contains(string(all[id]), "alice") {
			t.Fatalf("a session row holds the profile in the clear: %q", all[id][:min(len(all[id]), 80)])
		}
	}

	// Moved: B's sealed row under A's id.
	set(idA, all[idB])
	status, body := user(cookieA)
	if status != 400 || body["code"] != "session_invalid" {
		t.Fatalf("a row moved to another id: %d %v", status, body)
	}
	p.waitLog(t, "does not open under the session keys")
	if status, body := user(cookieB); status != 200 || body["isAuthenticated"] != true {
		t.Fatalf("the untouched session: %d %v", status, body)
	}

	// Edited: one bit of B's row.
	edited := slices.Clone(all[idB])
	edited[len(edited)-20] ^= 1
	set(idB, edited)
	if status, body := user(cookieB); status != 400 || body["code"] != "session_invalid" {
		t.Fatalf("an edited row: %d %v", status, body)
	}

	// Forged in the clear, as rows were before they were sealed: signed out, never admin.
	set(idA, []byte(`{"c":"acme","u":{"id":"admin"}}`))
	if status, body := user(cookieA); status != 200 || body["isAuthenticated"] != false {
		t.Fatalf("a row forged in the clear: %d %v", status, body)
	}
	if strings.Contains(p.logs.String(), "alice@") {
		t.Fatal("the log holds the profile")
	}
}
