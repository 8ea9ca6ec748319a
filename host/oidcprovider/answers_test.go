package oidcprovider

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// What the endpoints answer, held to the RFCs' letter: the headers, statuses
// and error codes relying parties and their libraries act on.

// RFC 6749 5.1, OpenID Connect Core 3.1.3.3: a response with tokens is never cached.
func TestTokenResponsesAreNotCached(t *testing.T) {
	s := newHostileSetup(t)
	s.signIn("alice")
	r := form(http.MethodPost, "/oauth/token", url.Values{"grant_type": {"authorization_code"},
		"code": {s.code(t, "openid offline_access")}, "redirect_uri": {"https://app.test/cb"}})
	r.SetBasicAuth("web", webSecret)
	rec := s.do(r)
	checkNoStore(t, "code exchange", rec)
	var answer struct {
		Refresh string `json:"refresh_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil || answer.Refresh == "" {
		t.Fatalf("token: %d %s", rec.Code, rec.Body)
	}
	r = form(http.MethodPost, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {answer.Refresh}})
	r.SetBasicAuth("web", webSecret)
	checkNoStore(t, "refresh", s.do(r))
	// Refusals too.
	r = form(http.MethodPost, "/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {"made-up"}, "redirect_uri": {"https://app.test/cb"}})
	r.SetBasicAuth("web", webSecret)
	if rec := s.do(r); rec.Code != http.StatusBadRequest || rec.Header().Get("Cache-Control") != "no-store" || rec.Header().Get("Pragma") != "no-cache" {
		t.Errorf("a refused code: %d, Cache-Control %q, Pragma %q", rec.Code, rec.Header().Get("Cache-Control"), rec.Header().Get("Pragma"))
	}
}

// An authorization answer carries a code in its Location, and a userinfo
// answer the person's claims: neither is for a cache on the way.
func TestCodesAndClaimsAreNotCached(t *testing.T) {
	s := newHostileSetup(t)
	s.signIn("alice")
	q := url.Values{"client_id": {"web"}, "redirect_uri": {"https://app.test/cb"}, "response_type": {"code"}, "scope": {"openid"}}
	rec := s.do(httptest.NewRequest(http.MethodGet, "/authorize?"+q.Encode(), nil))
	if loc, _ := url.Parse(rec.Header().Get("Location")); rec.Code != http.StatusFound || loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("a signed-in browser's authorization: %d, Location %q", rec.Code, rec.Header().Get("Location"))
	}
	rec.Code = http.StatusOK // a redirect: checkNoStore wants 200
	checkNoStore(t, "authorization by single sign-on", rec)
	access, _ := s.tokens(t)
	r := httptest.NewRequest(http.MethodGet, "/userinfo", nil)
	r.Header.Set("Authorization", "Bearer "+access)
	checkNoStore(t, "userinfo", s.do(r))
}

func checkNoStore(t *testing.T, what string, rec *httptest.ResponseRecorder) {
	t.Helper()
	if rec.Code != http.StatusOK || rec.Header().Get("Cache-Control") != "no-store" || rec.Header().Get("Pragma") != "no-cache" {
		t.Errorf("%s: %d, Cache-Control %q, Pragma %q", what, rec.Code, rec.Header().Get("Cache-Control"), rec.Header().Get("Pragma"))
	}
}

// RFC 6749 6: a refresh may ask for fewer scopes for its access token, but the
// rotated refresh token keeps the scope of the one presented.
func TestANarrowedRefreshKeepsTheGrantsScopes(t *testing.T) {
	s := newHostileSetup(t)
	s.signIn("alice")
	r := form(http.MethodPost, "/oauth/token", url.Values{"grant_type": {"authorization_code"},
		"code": {s.code(t, "openid profile offline_access")}, "redirect_uri": {"https://app.test/cb"}})
	r.SetBasicAuth("web", webSecret)
	type tokens struct {
		Refresh string `json:"refresh_token"`
		Scope   string `json:"scope"`
	}
	var first tokens
	if rec := s.do(r); json.Unmarshal(rec.Body.Bytes(), &first) != nil || first.Refresh == "" {
		t.Fatalf("token: %d %s", rec.Code, rec.Body)
	}
	refresh := func(token, scope string) tokens {
		t.Helper()
		v := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}}
		if scope != "" {
			v.Set("scope", scope)
		}
		r := form(http.MethodPost, "/oauth/token", v)
		r.SetBasicAuth("web", webSecret)
		rec := s.do(r)
		var got tokens
		if json.Unmarshal(rec.Body.Bytes(), &got) != nil || got.Refresh == "" {
			t.Fatalf("refresh for %q: %d %s", scope, rec.Code, rec.Body)
		}
		return got
	}
	narrowed := refresh(first.Refresh, "openid")
	if narrowed.Scope != "openid" {
		t.Errorf("the narrowed refresh's access token is for %q; want openid", narrowed.Scope)
	}
	if again := refresh(narrowed.Refresh, "openid profile"); again.Scope != "openid profile" {
		t.Errorf("the rotated refresh token lost scope: %q", again.Scope)
	}
}

// OpenID Connect Core 6 and 3.1.2.6: request objects are not supported, and a
// request that carries one is refused, not served without what it says
// (here max_age=0 and a nonce, which would have been dropped).
func TestRequestObjectsAreRefused(t *testing.T) {
	s := newHostileSetup(t)
	s.signIn("alice")
	object := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(`{"client_id":"web","nonce":"n","max_age":0}`)) + "."
	for param, want := range map[string]string{"request": "request_not_supported", "request_uri": "request_uri_not_supported"} {
		value := object
		if param == "request_uri" {
			value = "https://app.test/request.jwt"
		}
		q := url.Values{"client_id": {"web"}, "redirect_uri": {"https://app.test/cb"}, "response_type": {"code"},
			"scope": {"openid"}, "state": {"st"}, param: {value}}
		loc, _ := url.Parse(s.do(httptest.NewRequest(http.MethodGet, "/authorize?"+q.Encode(), nil)).Header().Get("Location"))
		if loc == nil || loc.Query().Get("code") != "" || loc.Query().Get("error") != want || loc.Query().Get("state") != "st" {
			t.Errorf("%s: Location %v; want error=%s", param, loc, want)
		}
	}
}

// RFC 6750 3: a refused userinfo request gets 401 and a Bearer challenge;
// invalid_token when a token was sent, no error code when none was.
func TestUserinfoRefusalsChallenge(t *testing.T) {
	s := newHostileSetup(t)
	const realm = `Bearer realm="http://127.0.0.1:9/oidc"`
	for _, tc := range []struct {
		name      string
		req       *http.Request
		challenge string
		code      string
	}{
		{"a token that is not one", bearer(httptest.NewRequest(http.MethodGet, "/userinfo", nil), "not-a-token"),
			realm + `, error="invalid_token"`, "invalid_token"},
		{"a token in the form", form(http.MethodPost, "/userinfo", url.Values{"access_token": {"not-a-token"}}),
			realm + `, error="invalid_token"`, "invalid_token"},
		{"no token", httptest.NewRequest(http.MethodGet, "/userinfo", nil), realm, "invalid_request"},
	} {
		rec := s.do(tc.req)
		var answer struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(rec.Body.Bytes(), &answer)
		if rec.Code != http.StatusUnauthorized || rec.Header().Get("WWW-Authenticate") != tc.challenge || answer.Error != tc.code {
			t.Errorf("%s: %d, WWW-Authenticate %q, %s", tc.name, rec.Code, rec.Header().Get("WWW-Authenticate"), rec.Body)
		}
	}
}

func bearer(r *http.Request, token string) *http.Request {
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

// RFC 7235 2.1: the scheme's name is case-insensitive. RFC 6749 5.2: a client
// refused after trying the Authorization header gets 401 and a challenge.
func TestBasicClientAuthentication(t *testing.T) {
	s := newHostileSetup(t)
	s.signIn("alice")
	exchange := func(authorization string) *httptest.ResponseRecorder {
		r := form(http.MethodPost, "/oauth/token", url.Values{"grant_type": {"authorization_code"},
			"code": {s.code(t, "openid")}, "redirect_uri": {"https://app.test/cb"}})
		r.Header.Set("Authorization", authorization)
		return s.do(r)
	}
	credentials := func(secret string) string {
		return base64.StdEncoding.EncodeToString([]byte("web:" + secret))
	}
	for _, scheme := range []string{"Basic", "basic", "BASIC"} {
		if rec := exchange(scheme + " " + credentials(webSecret)); rec.Code != http.StatusOK {
			t.Errorf("scheme %q: %d %s", scheme, rec.Code, rec.Body)
		}
	}
	rec := exchange("Basic " + credentials("not-the-secret"))
	if rec.Code != http.StatusUnauthorized || rec.Header().Get("WWW-Authenticate") != `Basic realm="http://127.0.0.1:9/oidc"` ||
		!strings.Contains(rec.Body.String(), `"invalid_client"`) {
		t.Errorf("a wrong secret: %d, WWW-Authenticate %q, %s", rec.Code, rec.Header().Get("WWW-Authenticate"), rec.Body)
	}
	// Credentials the header cannot carry are an attempt at the header all the
	// same: 401 and the challenge, never the library's invalid_request.
	for name, authorization := range map[string]string{
		"not base64":      "Basic !!not-base64!!",
		"no colon":        "Basic " + base64.StdEncoding.EncodeToString([]byte("web")),
		"no credentials":  "Basic",
		"an empty user":   "Basic " + base64.StdEncoding.EncodeToString([]byte(":"+webSecret)),
		"an unknown user": "Basic " + base64.StdEncoding.EncodeToString([]byte("nobody:"+webSecret)),
		"another scheme":  "Digest username=\"web\"",
		"percent-mangled": "Basic " + base64.StdEncoding.EncodeToString([]byte("w%zzeb:"+webSecret)),
	} {
		rec := exchange(authorization)
		if rec.Code != http.StatusUnauthorized || !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Basic realm=") ||
			!strings.Contains(rec.Body.String(), `"invalid_client"`) {
			t.Errorf("%s: %d, WWW-Authenticate %q, %s", name, rec.Code, rec.Header().Get("WWW-Authenticate"), rec.Body)
		}
	}
	// Two headers, or a form naming another client than the header: which
	// one counts would be the reader's guess.
	twice := form(http.MethodPost, "/oauth/token", url.Values{"grant_type": {"authorization_code"},
		"code": {s.code(t, "openid")}, "redirect_uri": {"https://app.test/cb"}})
	twice.Header.Add("Authorization", "Basic "+credentials(webSecret))
	twice.Header.Add("Authorization", "Basic "+credentials("not-the-secret"))
	other := form(http.MethodPost, "/oauth/token", url.Values{"grant_type": {"authorization_code"},
		"code": {s.code(t, "openid")}, "redirect_uri": {"https://app.test/cb"}, "client_id": {"native"}})
	other.Header.Set("Authorization", "Basic "+credentials(webSecret))
	for name, r := range map[string]*http.Request{"two headers": twice, "another client_id in the form": other} {
		if rec := s.do(r); rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), `"invalid_client"`) {
			t.Errorf("%s: %d %s", name, rec.Code, rec.Body)
		}
	}
	// A gateway's own header beside credentials in the form is not the
	// client's attempt at the header.
	gateway := form(http.MethodPost, "/oauth/token", url.Values{"client_id": {"native"}})
	gateway.Header.Set("Authorization", "Bearer gateway-token")
	_ = gateway.ParseForm()
	if problem := headerCredentialsProblem(gateway); problem != "" {
		t.Errorf("a Bearer header beside a form's client_id: %q", problem)
	}
}

// RFC 9207 2: iss goes with the answer's other parameters, in the fragment
// when the error is sent there (the request asked for response_mode=fragment,
// which is refused).
func TestFragmentErrorsCarryIssInTheFragment(t *testing.T) {
	s := newHostileSetup(t)
	q := url.Values{"client_id": {"web"}, "redirect_uri": {"https://app.test/cb"}, "response_type": {"code"},
		"scope": {"openid"}, "state": {"st"}, "response_mode": {"fragment"}}
	loc, err := url.Parse(s.do(httptest.NewRequest(http.MethodGet, "/authorize?"+q.Encode(), nil)).Header().Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	f, _ := url.ParseQuery(loc.Fragment)
	if loc.RawQuery != "" || f.Get("error") != "invalid_request" || f.Get("iss") != "http://127.0.0.1:9/oidc" || f.Get("state") != "st" {
		t.Errorf("Location %q; want error, state and iss in the fragment, nothing in the query", loc)
	}
}

// OpenID Connect Core 3.1.2.1: prompt=select_account asks for the choice, so
// the browser's sign-in does not answer at once: the sign-in page does.
func TestSelectAccountShowsTheSignInPage(t *testing.T) {
	s := newHostileSetup(t)
	s.signIn("alice")
	q := url.Values{"client_id": {"web"}, "redirect_uri": {"https://app.test/cb"}, "response_type": {"code"},
		"scope": {"openid"}, "prompt": {"select_account"}}
	loc, _ := url.Parse(s.do(httptest.NewRequest(http.MethodGet, "/authorize?"+q.Encode(), nil)).Header().Get("Location"))
	if loc == nil || loc.Query().Get("code") != "" || loc.Path != "/oidc"+loginPath {
		t.Fatalf("prompt=select_account: Location %v; want the sign-in page", loc)
	}
}

// Finishes of one request at once (a double click, a link opened twice) send
// the app one code, not one each.
func TestOneCodePerRequest(t *testing.T) {
	s := newHostileSetup(t)
	q := url.Values{"client_id": {"web"}, "redirect_uri": {"https://app.test/cb"}, "response_type": {"code"}, "scope": {"openid"}}
	loc, _ := url.Parse(s.do(httptest.NewRequest(http.MethodGet, "/authorize?"+q.Encode(), nil)).Header().Get("Location"))
	if loc == nil || loc.Path != "/oidc"+loginPath {
		t.Fatalf("authorize: Location %v; want the sign-in page", loc)
	}
	s.signIn("alice")
	const finishes = 8
	var (
		arrived sync.WaitGroup
		done    sync.WaitGroup
		mu      sync.Mutex
		codes   int
	)
	// Every finish has read the pending request (finish asks the browser
	// after that) before any goes on: they overlap for sure.
	arrived.Add(finishes)
	s.browser.arrive = func() { arrived.Done(); arrived.Wait() }
	for range finishes {
		done.Add(1)
		go func() {
			defer done.Done()
			rec := httptest.NewRecorder()
			s.p.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, finishPath+"?id="+loc.Query().Get("id"), nil))
			if u, err := url.Parse(rec.Header().Get("Location")); err == nil && u.Query().Get("code") != "" {
				mu.Lock()
				codes++
				mu.Unlock()
			}
		}()
	}
	done.Wait()
	if codes != 1 {
		t.Fatalf("%d finishes of one request at once sent %d codes; want 1", finishes, codes)
	}
}

// RFC 6749 3.1: a parameter given twice is refused, whichever it is and
// wherever it is (the query, the form, one copy in each): the library read the
// last redirect_uri and the first grant_type, so a gateway in front could have
// checked one copy and the provider used the other. Nothing is redirected.
func TestRepeatedParametersAreRefused(t *testing.T) {
	s := newHostileSetup(t)
	s.signIn("alice")
	authorize := "/authorize?response_type=code&client_id=web&scope=openid&state=st&redirect_uri=" + url.QueryEscape("https://evil.example/cb") +
		"&redirect_uri=" + url.QueryEscape("https://app.test/cb")
	tokenForm := url.Values{"grant_type": {"password", "authorization_code"}, "code": {"x"}, "redirect_uri": {"https://app.test/cb"}}
	inBoth := form(http.MethodPost, "/userinfo", url.Values{"scope": {"openid"}})
	inBoth.URL.RawQuery = "scope=profile"
	quoted := httptest.NewRequest(http.MethodGet, `/authorize?a%22b=1&a%22b=2`, nil)
	for name, tc := range map[string]struct {
		req  *http.Request
		says string
	}{
		"redirect_uri at authorize":         {httptest.NewRequest(http.MethodGet, authorize, nil), "redirect_uri is given more than once"},
		"grant_type at the token":           {form(http.MethodPost, "/oauth/token", tokenForm), "grant_type is given more than once"},
		"one in the query, one in the form": {inBoth, "scope is given more than once"},
		"a name with a quote":               {quoted, `a"b is given more than once`},
	} {
		rec := s.do(tc.req)
		var answer struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		err := json.Unmarshal(rec.Body.Bytes(), &answer)
		if rec.Code == http.StatusFound || rec.Header().Get("Location") != "" || err != nil || answer.Error != "invalid_request" ||
			!strings.Contains(answer.Description, tc.says) {
			t.Errorf("%s: %d %s (Location %q)", name, rec.Code, rec.Body, rec.Header().Get("Location"))
		}
	}
}

// RFC 6749 2.3.1: a client_secret_post client authenticates with its id and
// secret in the form, at the token and revocation endpoints, and with nothing
// else; a public client sends no secret at all.
func TestClientSecretPost(t *testing.T) {
	s := newHostileSetup(t)
	s.signIn("alice")
	token := func(v url.Values, basic bool) *httptest.ResponseRecorder {
		if !basic {
			v.Set("client_id", "post")
			v.Set("client_secret", postSecret)
		}
		r := form(http.MethodPost, "/oauth/token", v)
		if basic {
			r.SetBasicAuth("post", postSecret)
		}
		return s.do(r)
	}
	exchange := func(basic bool) *httptest.ResponseRecorder {
		return token(url.Values{"grant_type": {"authorization_code"}, "redirect_uri": {"https://post.test/cb"},
			"code": {s.codeFor(t, "post", "https://post.test/cb", "openid offline_access")}}, basic)
	}
	rec := exchange(false)
	var answer struct {
		Refresh string `json:"refresh_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &answer); rec.Code != http.StatusOK || err != nil || answer.Refresh == "" {
		t.Fatalf("the secret in the form: %d %s", rec.Code, rec.Body)
	}
	rec = token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {answer.Refresh}}, false)
	if err := json.Unmarshal(rec.Body.Bytes(), &answer); rec.Code != http.StatusOK || err != nil || answer.Refresh == "" {
		t.Fatalf("a refresh with the secret in the form: %d %s", rec.Code, rec.Body)
	}
	revoke := form(http.MethodPost, "/revoke", url.Values{"token": {answer.Refresh}, "client_id": {"post"}, "client_secret": {postSecret}})
	if rec := s.do(revoke); rec.Code != http.StatusOK {
		t.Errorf("revocation with the secret in the form: %d %s", rec.Code, rec.Body)
	}
	if rec := exchange(true); rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), "client_secret_post") {
		t.Errorf("a client_secret_post client with Basic: %d %s", rec.Code, rec.Body)
	}
	// The native app is public: a secret it sends is refused, not ignored.
	native := form(http.MethodPost, "/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {"any"},
		"redirect_uri": {"http://127.0.0.1:3000/cb"}, "client_id": {"native"}, "client_secret": {"a-guess"}, "code_verifier": {strings.Repeat("v", 43)}})
	if rec := s.do(native); rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), "a public client sends no secret") {
		t.Errorf("a public client sending a secret: %d %s", rec.Code, rec.Body)
	}
}

// RFC 6750 2: a client uses one way to send its access token, not two.
func TestUserinfoTakesTheTokenOneWay(t *testing.T) {
	s := newHostileSetup(t)
	s.signIn("alice")
	access, _ := s.tokens(t)
	both := bearer(form(http.MethodPost, "/userinfo", url.Values{"access_token": {access}}), access)
	if rec := s.do(both); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "not both") {
		t.Errorf("the token in the header and the form: %d %s", rec.Code, rec.Body)
	}
	for name, r := range map[string]*http.Request{
		"header": bearer(httptest.NewRequest(http.MethodGet, "/userinfo", nil), access),
		"form":   form(http.MethodPost, "/userinfo", url.Values{"access_token": {access}}),
	} {
		if rec := s.do(r); rec.Code != http.StatusOK {
			t.Errorf("the token in the %s: %d %s", name, rec.Code, rec.Body)
		}
	}
}

// A store that does not answer is 503 with Retry-After at the token endpoint,
// as /v1 says it: the app may try again, nothing was spent.
func TestTokenEndpointWithoutTheStore(t *testing.T) {
	s := newHostileSetup(t)
	s.signIn("alice")
	_, refresh := s.tokens(t)
	s.store.Close()
	r := form(http.MethodPost, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}})
	r.SetBasicAuth("web", webSecret)
	rec := s.do(r)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "1" || !strings.Contains(rec.Body.String(), "try again shortly") {
		t.Errorf("a refresh with the store closed: %d, Retry-After %q, %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
}

// max_age of any size: a huge one asks for no fresh sign-in (it had wrapped
// around into a demand for one), a small one past the sign-in's age does.
func TestMaxAgeOfAnySize(t *testing.T) {
	s := newHostileSetup(t)
	s.signIn("alice")
	s.browser.login.AuthTime = s.now.Add(-time.Hour)
	for maxAge, wantCode := range map[string]bool{"10000000000": true, "18446744073709551615": true, "7200": true, "60": false} {
		q := url.Values{"client_id": {"web"}, "redirect_uri": {"https://app.test/cb"}, "response_type": {"code"},
			"scope": {"openid"}, "max_age": {maxAge}, "prompt": {"none"}}
		loc, _ := url.Parse(s.do(httptest.NewRequest(http.MethodGet, "/authorize?"+q.Encode(), nil)).Header().Get("Location"))
		if got := loc != nil && loc.Query().Get("code") != ""; got != wantCode {
			t.Errorf("max_age=%s, signed in an hour ago: Location %v; want a code: %v", maxAge, loc, wantCode)
		}
	}
}

// A max_age that is no number of seconds is told to the app at its redirect
// URI, naming max_age (the library's decoder had answered a bare 400 on
// idplug's page), and only there: a redirect URI the client does not have
// still gets no redirect. Digits past what the decoder holds ask for no
// fresh sign-in, as any max_age past a century does; POST forms alike.
func TestMalformedMaxAgeIsToldToTheApp(t *testing.T) {
	s := newHostileSetup(t)
	s.signIn("alice")
	s.browser.login.AuthTime = s.now.Add(-time.Hour)
	query := func(maxAge, redirect string) url.Values {
		return url.Values{"client_id": {"web"}, "redirect_uri": {redirect}, "response_type": {"code"},
			"scope": {"openid"}, "state": {"st"}, "max_age": {maxAge}, "prompt": {"none"}}
	}
	for _, maxAge := range []string{"abc", "-1", "1.5", "+5", " 60", "0x10", strings.Repeat("9", 30) + "x"} {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			q := query(maxAge, "https://app.test/cb")
			r := httptest.NewRequest(http.MethodGet, "/authorize?"+q.Encode(), nil)
			if method == http.MethodPost {
				r = form(http.MethodPost, "/authorize", q)
			}
			rec := s.do(r)
			loc, _ := url.Parse(rec.Header().Get("Location"))
			if rec.Code != http.StatusFound || loc == nil || loc.Host != "app.test" {
				t.Fatalf("%s max_age=%q: %d, Location %q; want the app told", method, maxAge, rec.Code, rec.Header().Get("Location"))
			}
			got := loc.Query()
			if got.Get("error") != "invalid_request" || !strings.Contains(got.Get("error_description"), "max_age must be a whole number of seconds") ||
				got.Get("state") != "st" || got.Get("iss") == "" || got.Get("code") != "" {
				t.Errorf("%s max_age=%q: Location %v", method, maxAge, loc)
			}
		}
		q := query(maxAge, "https://evil.test/cb")
		rec := s.do(httptest.NewRequest(http.MethodGet, "/authorize?"+q.Encode(), nil))
		if loc := rec.Header().Get("Location"); rec.Code == http.StatusFound || strings.Contains(loc, "evil") {
			t.Errorf("max_age=%q at an unregistered redirect URI: %d, Location %q; want no redirect", maxAge, rec.Code, loc)
		}
	}
	for _, maxAge := range []string{"99999999999999999999", strings.Repeat("9", 200)} {
		q := query(maxAge, "https://app.test/cb")
		loc, _ := url.Parse(s.do(httptest.NewRequest(http.MethodGet, "/authorize?"+q.Encode(), nil)).Header().Get("Location"))
		if loc == nil || loc.Query().Get("code") == "" {
			t.Errorf("max_age of %d digits, signed in an hour ago: Location %v; want a code", len(maxAge), loc)
		}
	}
}

// RFC 7636 4.2: a challenge is base64url; a challenge of 43 other characters
// is refused where the app can be told, not left to fail every exchange.
// Discovery names only claims this provider issues (no acr, no hybrid c_hash).
func TestChallengeAlphabetAndClaimsNamed(t *testing.T) {
	s := newHostileSetup(t)
	q := url.Values{"client_id": {"native"}, "redirect_uri": {"http://127.0.0.1:3000/cb"}, "response_type": {"code"},
		"scope": {"openid"}, "state": {"st"}, "code_challenge": {strings.Repeat("!", 43)}, "code_challenge_method": {"S256"}}
	loc, _ := url.Parse(s.do(httptest.NewRequest(http.MethodGet, "/authorize?"+q.Encode(), nil)).Header().Get("Location"))
	if loc == nil || loc.Query().Get("error") != "invalid_request" || !strings.Contains(loc.Query().Get("error_description"), "base64url") {
		t.Errorf("a challenge of 43 '!': Location %v", loc)
	}
	rec := s.do(httptest.NewRequest(http.MethodGet, "/.well-known/openid-configuration", nil))
	var d struct {
		Claims []string `json:"claims_supported"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &d); err != nil || !slices.Contains(d.Claims, "auth_time") || slices.Contains(d.Claims, "acr") || slices.Contains(d.Claims, "c_hash") {
		t.Errorf("claims_supported: %v %v", d.Claims, err)
	}
}

// Each authorization request no browser answers at once is kept for
// session_ttl: one address may not send more than a person ever would, and
// the store stops growing with them. Another address is served meanwhile.
func TestAuthorizationRequestsAreLimitedPerAddress(t *testing.T) {
	s := newHostileSetup(t)
	q := url.Values{"client_id": {"web"}, "redirect_uri": {"https://app.test/cb"}, "response_type": {"code"},
		"scope": {"openid"}, "state": {strings.Repeat("s", 512)}, "nonce": {strings.Repeat("n", 512)}}
	send := func(addr string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/authorize?"+q.Encode(), nil)
		r.RemoteAddr = addr
		return s.do(r)
	}
	for i := range maxAuthorizeRequests {
		if rec := send("192.0.2.7:4000"); rec.Code != http.StatusFound {
			t.Fatalf("request %d: %d %s", i+1, rec.Code, rec.Body)
		}
	}
	rec := send("192.0.2.7:4001")
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), "temporarily_unavailable") {
		t.Errorf("past the limit: %d, Retry-After %q, %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	if rec := send("198.51.100.9:4000"); rec.Code != http.StatusFound {
		t.Errorf("another address: %d %s", rec.Code, rec.Body)
	}
	// This machine (a proxy beside idplug, a load test) is not counted.
	for _, loopback := range []string{"127.0.0.1:4000", "[::1]:4000", "127.0.0.1", "[::ffff:127.0.0.1]:4000"} {
		for range maxAuthorizeRequests + 1 {
			if rec := send(loopback); rec.Code != http.StatusFound {
				t.Fatalf("%s: %d %s", loopback, rec.Code, rec.Body)
			}
		}
	}
}
