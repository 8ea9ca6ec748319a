package oidcprovider

import (
	"database/sql"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/idplug/idplug/host/config"
	"github.com/idplug/idplug/host/seal"
)

// The provider's records (pending authorization requests, codes) against
// whoever can write the database (docs/security.md), in the user_sessions
// table beside browser sessions.

// writerSetup is newHostileSetup on a store the test also writes with SQL, the
// provider logging to logs.
func writerSetup(t *testing.T) (*hostileSetup, *sqlDB, *logBuffer) {
	t.Helper()
	st, db := sqliteStore(t)
	logs := &logBuffer{}
	s := &hostileSetup{browser: &testBrowser{}, store: st, now: time.Now()}
	sealer := testSealer(t)
	cfg := &config.Provider{Issuer: "http://127.0.0.1:9/oidc", IssuerPath: "/oidc",
		AccessTokenTTL: 10 * time.Minute, RefreshTokenTTL: time.Hour, SSOTTL: 8 * time.Hour,
		Clients: []config.Client{{ID: "web", Secret: webSecret, AuthMethod: "client_secret_basic",
			RedirectURIs: []string{"https://app.test/cb"}}}}
	var err error
	s.p, err = New(Options{Config: cfg, Store: st, Sealer: func() *seal.Sealer { return sealer },
		Targets:      func(id string) (string, bool) { return "acme-target", id == "acme" },
		AllInstances: func() []string { return []string{"acme"} },
		Browser:      s.browser, Now: func() time.Time { return s.now }, Logger: logs.logger()})
	if err != nil {
		t.Fatal(err)
	}
	return s, &sqlDB{t: t, db: db}, logs
}

// exchange exchanges a code for the web app: the status, and the ID token's sub.
func (s *hostileSetup) exchange(t *testing.T, code string) (int, string) {
	t.Helper()
	r := form(http.MethodPost, "/oauth/token", url.Values{"grant_type": {"authorization_code"},
		"code": {code}, "redirect_uri": {"https://app.test/cb"}})
	r.SetBasicAuth("web", webSecret)
	rec := s.do(r)
	var answer struct {
		IDToken string `json:"id_token"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &answer)
	if answer.IDToken == "" {
		return rec.Code, ""
	}
	jws, err := jose.ParseSignedCompact(answer.IDToken, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Sub string `json:"sub"`
	}
	_ = json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &claims)
	return rec.Code, claims.Sub
}

// The attack: a code's record (its request and the signed-in user's identity)
// was kept as plain JSON. A database writer who is also a client (or works
// with one) signed in as itself, edited its code's row to name the victim and
// exchanged the code: the ID token said sub = the victim's. Records are now
// sealed under session_keys with their key in the authenticated data: the
// edited row does not open, the exchange is invalid_grant, and a WARN names a
// prefix of the row's key.
func TestDatabaseWriterCannotEditACodeRecord(t *testing.T) {
	s, db, logs := writerSetup(t)
	s.signIn("mallory")
	code := s.code(t, "openid")
	key := storeKey("code", code)

	// The writer edits the row: in the clear, the subject as text; sealed,
	// any byte of it.
	row := db.row(key)
	mallory, victim := subject("acme-target", "mallory"), subject("acme-target", "victim")
	if edited := strings.ReplaceAll(string(row), mallory, victim); edited != string(row) {
		db.set(key, []byte(edited))
	} else {
		row[len(row)/2] ^= 1
		db.set(key, row)
	}
	status, sub := s.exchange(t, code)
	if sub == victim {
		t.Fatalf("mallory signed in, a database writer edited the code's row, and the provider signed an ID token for the victim (sub %s)", sub)
	}
	if status != http.StatusBadRequest || sub != "" {
		t.Fatalf("an edited code: %d, sub %q; want invalid_grant", status, sub)
	}
	if !strings.Contains(logs.String(), "a stored code record does not open under the session keys") || !strings.Contains(logs.String(), key[:12]) {
		t.Errorf("no WARN naming the row:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), code) || strings.Contains(logs.String(), key) {
		t.Errorf("the log shows the code or the row's whole key:\n%s", logs.String())
	}
}

// A code's sealed row moved under another code's key (the writer holds a code
// of its own and copies the victim's row onto it): it does not open there.
func TestDatabaseWriterCannotMoveACodeRecord(t *testing.T) {
	s, db, _ := writerSetup(t)
	s.signIn("victim")
	victims := s.code(t, "openid")
	s.signIn("mallory")
	mallorys := s.code(t, "openid")
	db.set(storeKey("code", mallorys), db.row(storeKey("code", victims)))
	if status, sub := s.exchange(t, mallorys); sub != "" || status != http.StatusBadRequest {
		t.Fatalf("a code row moved under another code: %d, sub %q; want invalid_grant", status, sub)
	}
}

// The attack: a pending request's row was read as written, and the redirect
// URI in it is not checked again when the sign-in finishes, so a database
// writer who replaced it had the signed-in person's code sent to a URI of its
// own. A request in the clear (the writer's, or one the release before sealed
// records stored) is now refused: the sign-in in progress starts again.
func TestUnsealedRequestRecordIsRefused(t *testing.T) {
	s, db, logs := writerSetup(t)
	q := url.Values{"client_id": {"web"}, "redirect_uri": {"https://app.test/cb"}, "response_type": {"code"},
		"scope": {"openid"}, "prompt": {"consent"}}
	rec := s.do(httptest.NewRequest(http.MethodGet, "/authorize?"+q.Encode(), nil))
	loc, err := url.Parse(rec.Header().Get("Location"))
	if err != nil || loc.Path != "/oidc"+loginPath || loc.Query().Get("id") == "" {
		t.Fatalf("authorize: %d, Location %q", rec.Code, rec.Header().Get("Location"))
	}
	id := loc.Query().Get("id")
	plain, _ := json.Marshal(authRequest{ClientID: "web", RedirectURI: "https://evil.test/cb", Scopes: []string{"openid"}})
	db.set(storeKey("authz", id), plain)

	// The browser comes back signed in: no code goes anywhere.
	s.signIn("alice")
	rec = s.do(httptest.NewRequest(http.MethodGet, finishPath+"?id="+url.QueryEscape(id), nil))
	if got := rec.Header().Get("Location"); got != "" || len(s.browser.failures) != 1 {
		t.Fatalf("an unsealed request: %d, Location %q, failures %v", rec.Code, got, s.browser.failures)
	}
	if !strings.Contains(logs.String(), "a stored authz record is not sealed") {
		t.Errorf("no WARN for the unsealed row:\n%s", logs.String())
	}
}

// sqlDB is the database writer's connection.
type sqlDB struct {
	t  *testing.T
	db *sql.DB
}

func (d *sqlDB) row(id string) []byte {
	d.t.Helper()
	var data []byte
	if err := d.db.QueryRowContext(d.t.Context(), `SELECT data FROM user_sessions WHERE id = ?`, id).Scan(&data); err != nil {
		d.t.Fatalf("row %s: %v", id[:12], err)
	}
	return data
}

func (d *sqlDB) set(id string, data []byte) {
	d.t.Helper()
	res, err := d.db.ExecContext(d.t.Context(), `UPDATE user_sessions SET data = ? WHERE id = ?`, data, id)
	if err != nil {
		d.t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		d.t.Fatalf("row %s: %d rows updated", id[:12], n)
	}
}
