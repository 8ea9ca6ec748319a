package oidcprovider

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idplug/idplug/host/config"
	"github.com/idplug/idplug/host/seal"
	"github.com/idplug/idplug/host/store"
	"github.com/idplug/idplug/sdk"
)

// Hostile apps, browsers and links against the provider's own rules, on a
// real SQLite store. The browser's side (idplug's pages and session) is a
// recording double here; the whole protocol with real relying parties and
// idplug's real pages runs in host/cmd/idplug's tests.

const webSecret = "a-confidential-client-secret-of-40-bytes!"

// postSecret is the secret of the client that sends it in the form.
const postSecret = "another-confidential-secret-of-40-bytes!!"

// testBrowser records what the provider asked of the browser's routes.
type testBrowser struct {
	mu          sync.Mutex // Fail is called from requests at once
	arrive      func()     // when set, SignedIn calls it first (a test holding requests together)
	login       *Login
	refused     bool // a session SignedIn refuses (HasSession is true)
	signedOut   int
	confirms    int
	appConfirms []appConfirm
	failures    []error
	// failure is the failed sign-in a way back with ?failed= reports, when
	// it comes back to failedFor.
	failure   *SignInFailure
	failedFor string
	// mark is the browser's mark for its requests (Bind); a test changes it
	// to be another browser.
	mark string
}

func (b *testBrowser) Bind(http.ResponseWriter, *http.Request, time.Duration) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.mark == "" {
		b.mark = "this-browser"
	}
	return b.mark
}

func (b *testBrowser) Binding(*http.Request) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mark
}

func (b *testBrowser) SignedIn(*http.Request) (Login, bool) {
	if b.arrive != nil {
		b.arrive()
	}
	if b.login == nil {
		return Login{}, false
	}
	return *b.login, true
}

func (b *testBrowser) HasSession(*http.Request) bool { return b.login != nil || b.refused }

func (b *testBrowser) Choose(w http.ResponseWriter, _ *http.Request, _ []string, _ string) {
	w.WriteHeader(http.StatusOK)
}

func (b *testBrowser) SignIn(w http.ResponseWriter, r *http.Request, id, _ string) {
	http.Redirect(w, r, "/sign-in/"+id, http.StatusFound)
}

func (b *testBrowser) SignOut(http.ResponseWriter, *http.Request) error {
	b.signedOut++
	b.login = nil
	return nil
}

func (b *testBrowser) Fail(w http.ResponseWriter, _ *http.Request, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures = append(b.failures, err)
	w.WriteHeader(http.StatusBadRequest)
}

func (b *testBrowser) ConfirmSignOut(w http.ResponseWriter, _ *http.Request, _ string, _ map[string]string) {
	b.confirms++
	w.WriteHeader(http.StatusOK)
}

func (b *testBrowser) ConfirmApp(w http.ResponseWriter, _ *http.Request, action string, fields map[string]string, client, redirectURI string) {
	b.appConfirms = append(b.appConfirms, appConfirm{action, fields, client, redirectURI})
	w.WriteHeader(http.StatusOK)
}

type appConfirm struct {
	action              string
	fields              map[string]string
	client, redirectURI string
}

type hostileSetup struct {
	p       *Provider
	browser *testBrowser
	store   store.Store
	now     time.Time // the provider's clock
}

// newHostileSetup: a confidential web app, a public native app on a loopback
// URI, and one connector instance, acme.
func newHostileSetup(t *testing.T) *hostileSetup {
	t.Helper()
	// Timed, as idplug serve's store is: a failure of the database is ErrUnavailable.
	st := store.Timed(testStore(t), 5*time.Second, 5*time.Second, nil)
	s := &hostileSetup{browser: &testBrowser{}, store: st, now: time.Now()}
	sealer := testSealer(t)
	cfg := &config.Provider{Issuer: "http://127.0.0.1:9/oidc", IssuerPath: "/oidc",
		AccessTokenTTL: 10 * time.Minute, RefreshTokenTTL: time.Hour, SSOTTL: 8 * time.Hour,
		Clients: []config.Client{
			{ID: "web", Secret: webSecret, AuthMethod: "client_secret_basic",
				RedirectURIs: []string{"https://app.test/cb"}, PostLogoutRedirectURIs: []string{"https://app.test/bye"}},
			{ID: "native", Public: true, AuthMethod: "none", RedirectURIs: []string{"http://127.0.0.1:3000/cb"}},
			{ID: "post", Secret: postSecret, AuthMethod: "client_secret_post", RedirectURIs: []string{"https://post.test/cb"}},
		}}
	p, err := New(Options{Config: cfg, Store: s.store, Sealer: func() *seal.Sealer { return sealer },
		Targets:      func(id string) (string, bool) { return "acme-target", id == "acme" },
		AllInstances: func() []string { return []string{"acme"} },
		Browser:      s.browser, Now: func() time.Time { return s.now }})
	if err != nil {
		t.Fatal(err)
	}
	s.p = p
	return s
}

func (s *hostileSetup) signIn(user string) {
	s.browser.login = &Login{Instance: "acme", UserInfo: sdk.UserInfo{ID: user}, AuthTime: s.now}
}

// idToken is an ID token of user for the web app, issued now by the provider's clock.
func (s *hostileSetup) idToken(t *testing.T, user string) string {
	t.Helper()
	key, err := s.p.keys.signing(t.Context(), "RS256")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.p.idToken(key, "web", []string{"openid"},
		identity{Sub: subject("acme-target", user), Instance: "acme", AuthTime: s.now.Unix()}, "", "at")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (s *hostileSetup) do(r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	s.p.ServeHTTP(rec, r)
	return rec
}

func form(method, target string, v url.Values) *http.Request {
	r := httptest.NewRequest(method, target, strings.NewReader(v.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

// code signs the web app in, for scope, through the browser and returns its code.
func (s *hostileSetup) code(t *testing.T, scope string) string {
	t.Helper()
	return s.codeFor(t, "web", "https://app.test/cb", scope)
}

// codeFor signs client in, for scope, through the browser and returns its code.
func (s *hostileSetup) codeFor(t *testing.T, client, redirectURI, scope string) string {
	t.Helper()
	q := url.Values{"client_id": {client}, "redirect_uri": {redirectURI}, "response_type": {"code"},
		"scope": {scope}, "prompt": {"consent"}}
	rec := s.do(httptest.NewRequest(http.MethodGet, "/authorize?"+q.Encode(), nil))
	loc, err := url.Parse(rec.Header().Get("Location"))
	if err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("authorize: %d, Location %q", rec.Code, rec.Header().Get("Location"))
	}
	return loc.Query().Get("code")
}

// tokens signs the web app in through a browser signed in as user and
// exchanges the code: the access and refresh tokens, and the grant's id.
func (s *hostileSetup) tokens(t *testing.T) (access, refresh string) {
	t.Helper()
	r := form(http.MethodPost, "/oauth/token", url.Values{"grant_type": {"authorization_code"},
		"code": {s.code(t, "openid offline_access")}, "redirect_uri": {"https://app.test/cb"}})
	r.SetBasicAuth("web", webSecret)
	rec := s.do(r)
	var answer struct {
		Access  string `json:"access_token"`
		Refresh string `json:"refresh_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil || answer.Access == "" || answer.Refresh == "" {
		t.Fatalf("token: %d %s", rec.Code, rec.Body)
	}
	return answer.Access, answer.Refresh
}

// refreshes says whether the web app's refresh token still gets new tokens.
func (s *hostileSetup) refreshes(t *testing.T, refresh string) bool {
	t.Helper()
	_, ok := s.refreshed(t, refresh)
	return ok
}

// refreshed refreshes the web app's tokens with refresh: the refresh token
// that takes its place, and whether it got new tokens.
func (s *hostileSetup) refreshed(t *testing.T, refresh string) (string, bool) {
	t.Helper()
	r := form(http.MethodPost, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}})
	r.SetBasicAuth("web", webSecret)
	rec := s.do(r)
	var answer struct {
		Refresh string `json:"refresh_token"`
	}
	if rec.Code != http.StatusOK {
		return "", false
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil || answer.Refresh == "" {
		t.Fatalf("refresh: %d %s", rec.Code, rec.Body)
	}
	return answer.Refresh, true
}

func TestSignOutWithAnExpiredHint(t *testing.T) {
	// Apps sign out long after sign-in, with the ID token they got then: refused,
	// the app's user would believe they signed out while the browser stays
	// signed in here for sso_ttl, for the next person at the computer.
	s := newHostileSetup(t)
	s.now = time.Now().Add(-3 * time.Hour)
	s.signIn("alice")
	hint := s.idToken(t, "alice")
	s.now = time.Now() // the token expired two hours and fifty minutes ago
	rec := s.do(httptest.NewRequest(http.MethodGet, "/end_session?"+url.Values{
		"id_token_hint": {hint}, "post_logout_redirect_uri": {"https://app.test/bye"}, "state": {"s1"}}.Encode(), nil))
	if s.browser.signedOut != 1 || rec.Code != http.StatusSeeOther {
		t.Fatalf("expired hint: %d, signed out %d times, failures %v", rec.Code, s.browser.signedOut, s.browser.failures)
	}
	if got := rec.Header().Get("Location"); got != "https://app.test/bye?state=s1" {
		t.Errorf("redirected to %q", got)
	}

	// A token that is not this provider's is still refused, expired or not.
	other := newHostileSetup(t)
	other.now = s.now.Add(-3 * time.Hour)
	forged := other.idToken(t, "alice")
	s.signIn("alice")
	s.do(httptest.NewRequest(http.MethodGet, "/end_session?id_token_hint="+url.QueryEscape(forged), nil))
	if s.browser.signedOut != 1 || len(s.browser.failures) != 1 {
		t.Errorf("another provider's token: signed out %d times, failures %v", s.browser.signedOut, s.browser.failures)
	}
}

func TestSignOutWithAnotherUsersHintAsksFirst(t *testing.T) {
	// Mallory puts her own ID token in a link or an image on any site: Alice's
	// browser must not be signed out without a word.
	s := newHostileSetup(t)
	s.signIn("mallory")
	hint := s.idToken(t, "mallory")
	s.signIn("alice")
	rec := s.do(httptest.NewRequest(http.MethodGet, "/end_session?id_token_hint="+url.QueryEscape(hint), nil))
	if s.browser.signedOut != 0 || s.browser.confirms != 1 || rec.Code != http.StatusOK {
		t.Fatalf("another user's hint: %d, signed out %d times, asked %d times", rec.Code, s.browser.signedOut, s.browser.confirms)
	}
	// A session the browser routes refuse (here: one whose sign-in mark a
	// link made up) is nobody's for sure: asked too.
	alice := s.browser.login
	s.browser.login, s.browser.refused = nil, true
	rec = s.do(httptest.NewRequest(http.MethodGet, "/end_session?id_token_hint="+url.QueryEscape(hint), nil))
	if s.browser.signedOut != 0 || s.browser.confirms != 2 || rec.Code != http.StatusOK {
		t.Fatalf("another user's hint, a session refused: %d, signed out %d times, asked %d times", rec.Code, s.browser.signedOut, s.browser.confirms)
	}
	s.browser.login, s.browser.refused = alice, false
	// Her own token signs Alice out at once, as before.
	rec = s.do(httptest.NewRequest(http.MethodGet, "/end_session?id_token_hint="+url.QueryEscape(s.idToken(t, "alice")), nil))
	if s.browser.signedOut != 1 || rec.Code != http.StatusSeeOther {
		t.Fatalf("the user's own hint: %d, signed out %d times", rec.Code, s.browser.signedOut)
	}
}

func TestRevocation(t *testing.T) {
	s := newHostileSetup(t)
	s.signIn("alice")
	revoke := func(token string, as func(*http.Request)) int {
		r := form(http.MethodPost, "/revoke", url.Values{"token": {token}})
		as(r)
		return s.do(r).Code
	}
	asWeb := func(r *http.Request) { r.SetBasicAuth("web", webSecret) }
	asNative := func(r *http.Request) {
		_ = r.ParseForm()
		r.Form.Set("client_id", "native")
		body := r.Form.Encode()
		r.Body, r.ContentLength, r.Form, r.PostForm = io.NopCloser(strings.NewReader(body)), int64(len(body)), nil, nil
	}

	t.Run("another client's tokens, or a grant by name, revoke nothing", func(t *testing.T) {
		access, refresh := s.tokens(t)
		for _, token := range []string{refresh, access} {
			if code := revoke(token, asNative); code == http.StatusOK {
				t.Errorf("the native app revoked the web app's token: %d", code)
			}
		}
		// The grant's id, as revocation once named grants internally: it is in
		// the sealed refresh token, but a leak of it must not be enough.
		var rec refreshRecord
		if err := s.p.open(refreshPurpose, refresh, &rec); err != nil {
			t.Fatal(err)
		}
		for _, forged := range []string{"grant:native:" + rec.Grant, "grant:web:" + rec.Grant} {
			revoke(forged, asNative)
			revoke(forged, asWeb)
		}
		if !s.refreshes(t, refresh) {
			t.Fatal("the web app's grant was revoked by a token it never held")
		}
	})
	t.Run("the client's refresh token", func(t *testing.T) {
		_, refresh := s.tokens(t)
		if code := revoke(refresh, asWeb); code != http.StatusOK {
			t.Fatalf("revoke: %d", code)
		}
		if s.refreshes(t, refresh) {
			t.Fatal("a revoked refresh token still refreshes")
		}
	})
	t.Run("the client's access token ends the grant too", func(t *testing.T) {
		access, refresh := s.tokens(t)
		if code := revoke(access, asWeb); code != http.StatusOK {
			t.Fatalf("revoke: %d", code)
		}
		if s.refreshes(t, refresh) {
			t.Fatal("the grant outlived its revoked access token")
		}
	})
	t.Run("an unknown token is no error", func(t *testing.T) {
		if code := revoke("not-a-token", asWeb); code != http.StatusOK {
			t.Fatalf("revoke: %d", code)
		}
	})
}

func TestAuthorizeRefusesRedirectsTheLoopbackMatchLetsThrough(t *testing.T) {
	// A native app's loopback URI matches on any port, comparing path and
	// query only: what else the URI carries must be held to bounds here, or it
	// is stored, and the browser sent there.
	s := newHostileSetup(t)
	for name, uri := range map[string]string{
		"5 MB of user information": "http://" + strings.Repeat("a", 5<<20) + "@127.0.0.1:3000/cb",
		"user information":         "http://evil.test@127.0.0.1:3000/cb",
		"a fragment":               "http://127.0.0.1:3000/cb#x",
		"longer than 2048 bytes":   "http://127.0.0.1:3000/cb?" + strings.Repeat("x", 2048),
		// Any port, but the registered scheme and host (RFC 8252 7.3, 8.3),
		// and a port there can be.
		"https, not http":      "https://127.0.0.1:3000/cb",
		"localhost":            "http://localhost:3000/cb",
		"IPv6 loopback":        "http://[::1]:3000/cb",
		"another loopback":     "http://127.0.0.2:3000/cb",
		"IPv4-mapped loopback": "http://[::ffff:127.0.0.1]:3000/cb",
		"port 0":               "http://127.0.0.1:0/cb",
		"port 99999":           "http://127.0.0.1:99999/cb",
		"an escaped path":      "http://127.0.0.1:3000/c%62",
	} {
		t.Run(name, func(t *testing.T) {
			// Nor is an error the library finds before idplug's own checks
			// (prompt, the response type, the challenge method) sent there.
			for _, bad := range []url.Values{{}, {"prompt": {"none login"}}, {"response_type": {"token"}},
				{"code_challenge_method": {"plain2"}}, {"max_age": {"abc"}}} {
				v := url.Values{"client_id": {"native"}, "redirect_uri": {uri}, "response_type": {"code"}, "scope": {"openid"},
					"code_challenge": {strings.Repeat("c", 43)}, "code_challenge_method": {"S256"}, "state": {"st"}}
				for k, x := range bad {
					v[k] = x
				}
				rec := s.do(form(http.MethodPost, "/authorize", v))
				if loc := rec.Header().Get("Location"); rec.Code < 400 || loc != "" {
					t.Fatalf("with %v: %d, Location %.80q", bad, rec.Code, loc)
				}
			}
		})
	}
	// The same app on another port is still served (RFC 8252 7.3).
	v := url.Values{"client_id": {"native"}, "redirect_uri": {"http://127.0.0.1:41234/cb"}, "response_type": {"code"},
		"scope": {"openid"}, "code_challenge": {strings.Repeat("c", 43)}, "code_challenge_method": {"S256"}}
	if rec := s.do(form(http.MethodPost, "/authorize", v)); !strings.Contains(rec.Header().Get("Location"), loginPath) {
		t.Fatalf("another loopback port: %d, Location %q", rec.Code, rec.Header().Get("Location"))
	}
}

// countingReader counts what was read of a body.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestBodiesAreCapped(t *testing.T) {
	// Without a cap, Go's forms read 10 MB, and a multipart one 32 MB in
	// memory with the rest in temporary files, from anyone.
	s := newHostileSetup(t)
	big := strings.Repeat("x", 8<<20)
	for _, tc := range []struct{ path, contentType, body string }{
		{"/end_session/confirm", "application/x-www-form-urlencoded", "state=" + big},
		{"/end_session/confirm", "multipart/form-data; boundary=b", "--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"f\"\r\n\r\n" + big},
		{"/end_session", "application/x-www-form-urlencoded", "state=" + big},
		{"/authorize", "application/x-www-form-urlencoded", "client_id=web&state=" + big},
		{"/oauth/token", "application/x-www-form-urlencoded", "grant_type=" + big},
	} {
		body := &countingReader{r: strings.NewReader(tc.body)}
		r := httptest.NewRequest(http.MethodPost, tc.path, body)
		r.Header.Set("Content-Type", tc.contentType)
		rec := s.do(r)
		if body.n > maxBody+64<<10 || rec.Code < 400 {
			t.Errorf("%s (%s): read %d bytes, answered %d", tc.path, tc.contentType, body.n, rec.Code)
		}
	}
	if s.browser.signedOut != 0 {
		t.Error("an unreadable sign-out signed the browser out")
	}
}

func TestNativeAppsWaitForThePersonsWord(t *testing.T) {
	// Any app on the device can listen on a loopback port or claim a private-use
	// scheme, and name the public native client: with a browser signed in here,
	// it would get a code for that person by asking, and the tokens with its own
	// PKCE verifier (RFC 8252 8.6).
	s := newHostileSetup(t)
	s.signIn("alice")
	verifier := strings.Repeat("v", 50)
	authorize := func(extra url.Values) *httptest.ResponseRecorder {
		q := url.Values{"client_id": {"native"}, "redirect_uri": {"http://127.0.0.1:45678/cb"}, "response_type": {"code"},
			"scope": {"openid offline_access"}, "state": {"st"}, "code_challenge": {s256(verifier)}, "code_challenge_method": {"S256"}}
		for k, v := range extra {
			q[k] = v
		}
		return s.do(httptest.NewRequest(http.MethodGet, "/authorize?"+q.Encode(), nil))
	}
	// askFor starts a request and returns its id at the confirmation page.
	askFor := func(t *testing.T) string {
		t.Helper()
		rec := authorize(nil)
		loc, _ := url.Parse(rec.Header().Get("Location"))
		if loc == nil || loc.Query().Get("code") != "" || loc.Path != "/oidc"+finishPath {
			t.Fatalf("authorize: %d, Location %q; want the confirmation, not a code", rec.Code, rec.Header().Get("Location"))
		}
		before := len(s.browser.appConfirms)
		rec = s.do(httptest.NewRequest(http.MethodGet, strings.TrimPrefix(loc.String(), "/oidc"), nil)) // ServeHTTP is below the issuer
		if rec.Code != http.StatusOK || len(s.browser.appConfirms) != before+1 || rec.Header().Get("Location") != "" {
			t.Fatalf("finish: %d, Location %q, %d confirmations", rec.Code, rec.Header().Get("Location"), len(s.browser.appConfirms))
		}
		c := s.browser.appConfirms[before]
		if c.client != "native" || c.redirectURI != "http://127.0.0.1:45678/cb" || c.fields["id"] != loc.Query().Get("id") {
			t.Fatalf("confirmation %+v", c)
		}
		return c.fields["id"]
	}
	answer := func(id string, extra ...string) *httptest.ResponseRecorder {
		v := url.Values{"id": {id}}
		for _, k := range extra {
			v.Set(k, "1")
		}
		return s.do(form(http.MethodPost, finishPath, v))
	}

	t.Run("the person allows", func(t *testing.T) {
		rec := answer(askFor(t))
		loc, _ := url.Parse(rec.Header().Get("Location"))
		if rec.Code != http.StatusSeeOther || loc == nil || !strings.HasPrefix(loc.String(), "http://127.0.0.1:45678/cb?") || loc.Query().Get("code") == "" || loc.Query().Get("state") != "st" {
			t.Fatalf("allow: %d, Location %q", rec.Code, rec.Header().Get("Location"))
		}
		r := form(http.MethodPost, "/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
			"client_id": {"native"}, "redirect_uri": {"http://127.0.0.1:45678/cb"}, "code_verifier": {verifier}})
		if rec := s.do(r); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "access_token") {
			t.Fatalf("exchange: %d %s", rec.Code, rec.Body)
		}
	})
	t.Run("the person denies", func(t *testing.T) {
		id := askFor(t)
		rec := answer(id, "deny")
		loc, _ := url.Parse(rec.Header().Get("Location"))
		if loc == nil || loc.Query().Get("error") != "access_denied" || loc.Query().Get("code") != "" || loc.Query().Get("state") != "st" || loc.Query().Get("iss") == "" {
			t.Fatalf("deny: %d, Location %q", rec.Code, rec.Header().Get("Location"))
		}
		if rec := answer(id); rec.Header().Get("Location") != "" {
			t.Fatalf("the denied request allowed afterwards: %q", rec.Header().Get("Location"))
		}
	})
	t.Run("another site cannot answer", func(t *testing.T) {
		id := askFor(t)
		r := form(http.MethodPost, finishPath, url.Values{"id": {id}})
		r.Header.Set("Sec-Fetch-Site", "cross-site")
		r.Header.Set("Origin", "http://localhost:45678")
		if rec := s.do(r); rec.Header().Get("Location") != "" {
			t.Fatalf("a cross-site answer: %d, Location %q", rec.Code, rec.Header().Get("Location"))
		}
		if rec := s.do(httptest.NewRequest(http.MethodPost, finishPath+"?id="+id, strings.NewReader("id="+id))); rec.Header().Get("Location") != "" {
			t.Fatalf("an answer that is not the page's form: %d, Location %q", rec.Code, rec.Header().Get("Location"))
		}
	})
	t.Run("prompt=none cannot skip the page", func(t *testing.T) {
		loc, _ := url.Parse(authorize(url.Values{"prompt": {"none"}}).Header().Get("Location"))
		if loc == nil || loc.Query().Get("error") != "interaction_required" || loc.Query().Get("code") != "" {
			t.Fatalf("prompt=none: Location %v", loc)
		}
	})
	t.Run("after a sign-in too", func(t *testing.T) {
		// The connector's provider may sign a known browser in without a
		// screen: a sign-in is no word of the person's either.
		s.browser.login = nil
		rec := authorize(nil)
		loc, _ := url.Parse(rec.Header().Get("Location"))
		if loc == nil || loc.Path != "/oidc"+loginPath {
			t.Fatalf("authorize signed out: %d, Location %q", rec.Code, rec.Header().Get("Location"))
		}
		s.signIn("alice")
		before := len(s.browser.appConfirms)
		rec = s.do(httptest.NewRequest(http.MethodGet, finishPath+"?id="+loc.Query().Get("id"), nil))
		if len(s.browser.appConfirms) != before+1 || rec.Header().Get("Location") != "" {
			t.Fatalf("back from the sign-in: %d, Location %q", rec.Code, rec.Header().Get("Location"))
		}
	})
	t.Run("an app at its own https address needs no word", func(t *testing.T) {
		// The web app (confidential, https) signed in silently in the other
		// tests; so does a public client whose redirect URI is https, exact.
		c := &client{cfg: config.Client{ID: "spa", Public: true}}
		// An https URI on loopback is matched on any port as the others are:
		// any app on the device with a certificate the browser takes holds it.
		for uri, want := range map[string]bool{"https://spa.test/cb": false, "http://127.0.0.1:3000/cb": true, "com.example.app:/cb": true,
			"https://127.0.0.1:45678/cb": true, "https://localhost:8443/cb": true, "https://[::1]/cb": true, "https://app.localhost/cb": true} {
			if got := needsConfirmation(c, uri); got != want {
				t.Errorf("needsConfirmation(public, %s) = %v", uri, got)
			}
		}
		if needsConfirmation(&client{cfg: config.Client{ID: "web"}}, "http://127.0.0.1:3000/cb") {
			t.Error("a confidential client waits for a word")
		}
	})
}

// s256 is verifier's PKCE S256 challenge.
func s256(verifier string) string {
	h := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// TestPendingRequestsGoOnOnlyInTheirBrowser: a request's id, seen in another
// browser (a shared link, a history, a Referer), neither ends the request
// nor has a code sent there for the other browser's own sign-in, which its
// holder could plant in the person's browser with the app's state. The
// request stays pending for the browser that made it.
func TestPendingRequestsGoOnOnlyInTheirBrowser(t *testing.T) {
	s := newHostileSetup(t)
	q := url.Values{"client_id": {"web"}, "redirect_uri": {"https://app.test/cb"}, "response_type": {"code"},
		"scope": {"openid"}, "state": {"the-apps-state"}}
	rec := s.do(httptest.NewRequest(http.MethodGet, "/authorize?"+q.Encode(), nil))
	login, err := url.Parse(rec.Header().Get("Location"))
	if err != nil || login.Query().Get("id") == "" {
		t.Fatalf("authorize: %d, Location %q", rec.Code, rec.Header().Get("Location"))
	}
	id := login.Query().Get("id")
	finish := "/login/finish?id=" + url.QueryEscape(id)

	// Another browser, signed in as someone else, with the id.
	s.browser.mark = "another-browser"
	s.signIn("mallory")
	for _, target := range []string{"/login?id=" + url.QueryEscape(id), finish} {
		rec := s.do(httptest.NewRequest(http.MethodGet, target, nil))
		if rec.Code != http.StatusBadRequest || rec.Header().Get("Location") != "" {
			t.Fatalf("%s from another browser: %d, Location %q; want the failure page", target, rec.Code, rec.Header().Get("Location"))
		}
		if err := s.browser.failures[len(s.browser.failures)-1]; !strings.Contains(err.Error(), "started in another browser") {
			t.Fatalf("%s from another browser: %v", target, err)
		}
	}
	// A browser without a mark at all is another browser too.
	s.browser.mark = ""
	if rec := s.do(httptest.NewRequest(http.MethodGet, finish, nil)); rec.Code != http.StatusBadRequest {
		t.Fatalf("finish from a browser without a mark: %d, Location %q", rec.Code, rec.Header().Get("Location"))
	}

	// The browser that made it signs in and gets its code.
	s.browser.mark = "this-browser"
	s.signIn("alice")
	rec = s.do(httptest.NewRequest(http.MethodGet, finish, nil))
	back, err := url.Parse(rec.Header().Get("Location"))
	if err != nil || back.Query().Get("code") == "" || back.Query().Get("state") != "the-apps-state" {
		t.Fatalf("finish in the request's browser: %d, Location %q", rec.Code, rec.Header().Get("Location"))
	}
}

// TestRequestsMadeBeforeBrowserMarksGoOn: a request kept by a release that
// did not tie requests to browsers (during an upgrade) finishes as before.
func TestRequestsMadeBeforeBrowserMarksGoOn(t *testing.T) {
	s := newHostileSetup(t)
	id := newID()
	ar := authRequest{ClientID: "web", RedirectURI: "https://app.test/cb", State: "st", Scopes: []string{"openid"}}
	if err := s.p.putRecord(t.Context(), "authz", id, ar, time.Minute); err != nil {
		t.Fatal(err)
	}
	s.browser.mark = "any-browser"
	s.signIn("alice")
	rec := s.do(httptest.NewRequest(http.MethodGet, "/login/finish?id="+url.QueryEscape(id), nil))
	back, err := url.Parse(rec.Header().Get("Location"))
	if err != nil || back.Query().Get("code") == "" {
		t.Fatalf("finish of an unmarked request: %d, Location %q", rec.Code, rec.Header().Get("Location"))
	}
}
