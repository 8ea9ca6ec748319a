package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/host/apikey"
	"github.com/idplug/idplug/host/catalog"
	"github.com/idplug/idplug/host/config"
	"github.com/idplug/idplug/host/mapping"
	"github.com/idplug/idplug/host/seal"
	"github.com/idplug/idplug/host/store"
	"github.com/idplug/idplug/host/vault"
	"github.com/idplug/idplug/sdk"
)

// Unit tests of the handlers over an in-test Connectors: no plugin process, no
// provider. The end-to-end tests with real plugins are in host/cmd/idplug.

// fakeInstances serves one connector, "acme" of plugin "oauth2", with the
// answers and errors a test sets, and records what the handlers asked.
type fakeInstances struct {
	mu       sync.Mutex
	auth     *sdk.Authorization
	authErr  error
	userInfo *sdk.UserInfoResult
	mapping  *mapping.Mapping // the instance's mapping; nil for none
	callErr  error            // returned by UserInfo, RefreshTokens and RevokeToken
	status   host.Status

	calls   []string
	request sdk.AuthorizationRequest // the last AuthorizationURI call, options applied
	session sdk.Session              // the last UserInfo call's session
	data    map[string]string        // and its callback
}

var acme = host.InstanceDetail{
	Instance: host.Instance{ID: "acme", Plugin: "oauth2", Target: "acme-id", Platform: sdk.PlatformUniversal,
		Name: sdk.I18n{"en": "Acme"}, Logo: "https://acme.test/logo.png", IsStandard: true},
	Description: sdk.I18n{"en": "Sign in with Acme"},
	Readme:      "# Acme",
	FormItems:   []sdk.FormItem{{Key: "clientId", Label: "Client ID", Type: sdk.FormText, Required: true}},
}

func (f *fakeInstances) record(call string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
}

func (f *fakeInstances) called() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeInstances) Instances() []host.Instance { return []host.Instance{acme.Instance} }

func (f *fakeInstances) CheckInstance(id string) error {
	_, err := f.Instance(id)
	return err
}

func (f *fakeInstances) Instance(id string) (host.InstanceDetail, error) {
	if id != acme.ID {
		return host.InstanceDetail{}, &sdk.Error{Code: host.CodeInstanceNotFound, Message: fmt.Sprintf("no connector %q is configured", id)}
	}
	d := acme
	f.mu.Lock()
	d.Mapping = f.mapping.Fingerprint()
	f.mu.Unlock()
	return d, nil
}

// setMapping is a reload that gives the connector mapping m.
func (f *fakeInstances) setMapping(m *mapping.Mapping) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mapping = m
}

func (f *fakeInstances) AuthorizationURI(_ context.Context, id, redirectURI, state string, opts ...host.AuthorizationOption) (*sdk.Authorization, error) {
	f.record("AuthorizationURI")
	if _, err := f.Instance(id); err != nil {
		return nil, err
	}
	req := sdk.AuthorizationRequest{InstanceID: id, RedirectURI: redirectURI, State: state}
	for _, o := range opts {
		o(&req)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.request = req
	return f.auth, f.authErr
}

func (f *fakeInstances) UserInfo(ctx context.Context, id string, session sdk.Session, callback map[string]string) (*host.UserInfoResult, error) {
	f.record("UserInfo")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.session, f.data = session, callback
	if f.callErr != nil || f.userInfo == nil {
		return nil, f.callErr
	}
	mapped, err := f.mapping.Apply(ctx, f.userInfo.UserInfo)
	if err != nil {
		return nil, err
	}
	return &host.UserInfoResult{UserInfoResult: sdk.UserInfoResult{UserInfo: mapped.UserInfo, Tokens: f.userInfo.Tokens}, Claims: mapped.Claims}, nil
}

func (f *fakeInstances) MapUserInfo(ctx context.Context, id string, u sdk.UserInfo) (mapping.Result, error) {
	if _, err := f.Instance(id); err != nil {
		return mapping.Result{}, err
	}
	return f.mapping.Apply(ctx, u)
}

func (f *fakeInstances) RefreshTokens(_ context.Context, id, refreshToken string) (*sdk.TokenSet, error) {
	f.record("RefreshTokens")
	if f.callErr != nil {
		return nil, f.callErr
	}
	return &sdk.TokenSet{AccessToken: "at-from-" + refreshToken, TokenType: "Bearer"}, nil
}

// The vault's calls, for tokens kept for provider: the fake has one
// configuration, which names no provider, so any provider is its.
func (f *fakeInstances) TokensProvider(id string) (string, error) {
	if _, err := f.Instance(id); err != nil {
		return "", err
	}
	return "", nil
}

func (f *fakeInstances) RefreshTokensFor(ctx context.Context, id, _ string, refreshToken string) (*sdk.TokenSet, error) {
	return f.RefreshTokens(ctx, id, refreshToken)
}

func (f *fakeInstances) RevokeTokenFor(context.Context, string, string, string, string) error {
	f.record("RevokeToken")
	return f.callErr
}

func (f *fakeInstances) Status() host.Status { return f.status }

const testAPIKey = "test-api-key-0123456789-0123456789-abcdef"

// newUnitServer serves f statelessly; settings may adjust the defaults.
func newUnitServer(t testing.TB, f Instances, settings func(*Settings)) *Server {
	t.Helper()
	sealer, err := seal.New([][]byte{[]byte("session-key-0123456789-0123456789-abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := url.Parse("https://idp.example.test")
	s := Settings{PublicURL: pub, AccessLog: hclog.NewNullLogger(), KeylessAPI: true}
	if settings != nil {
		settings(&s)
	}
	return New(f, sealer, nil, hclog.NewNullLogger(), s)
}

type response struct {
	status int
	header http.Header
	body   errorBody
	raw    []byte
}

// call sends one request to srv, with key as its bearer token when set.
func call(t *testing.T, srv http.Handler, method, path, key, body string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	req.RemoteAddr = "192.0.2.10:40000"
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	res := response{status: rec.Code, header: rec.Header(), raw: rec.Body.Bytes()}
	_ = json.Unmarshal(res.raw, &res.body)
	return res
}

// TestConnectorErrorsBecomeStatusAndBody sends each kind of plugin failure
// through a /v1 route and checks the status, the body (code, message and
// details kept whole) and Retry-After on the statuses worth retrying.
func TestConnectorErrorsBecomeStatusAndBody(t *testing.T) {
	for _, tc := range []struct {
		err     error
		status  int
		code    sdk.ErrorCode
		message string
		retry   bool
	}{
		{&sdk.Error{Code: sdk.CodeSocialAuthCodeInvalid, Message: "the code was used", Details: map[string]any{"error": "invalid_grant"}},
			401, sdk.CodeSocialAuthCodeInvalid, "the code was used", false},
		{&sdk.Error{Code: sdk.CodeInvalidConfig, Message: "clientId is required"}, 400, sdk.CodeInvalidConfig, "clientId is required", false},
		{&sdk.Error{Code: sdk.CodeRateLimitExceeded, Message: "slow down"}, 429, sdk.CodeRateLimitExceeded, "slow down", true},
		{&sdk.Error{Code: sdk.CodeProviderUnavailable, Message: "provider answered 502"}, 502, sdk.CodeProviderUnavailable, "provider answered 502", false},
		{&sdk.Error{Code: sdk.CodeProviderTimeout, Message: "provider took too long"}, 504, sdk.CodeProviderTimeout, "provider took too long", false},
		{&sdk.Error{Code: host.CodePluginUnavailable, Message: "plugin oauth2 is restarting"}, 503, host.CodePluginUnavailable, "plugin oauth2 is restarting", true},
		{&sdk.Error{Code: host.CodePluginOverloaded, Message: "too many calls"}, 503, host.CodePluginOverloaded, "too many calls", true},
		{&sdk.Error{Code: host.CodePluginTimeout, Message: "no answer"}, 504, host.CodePluginTimeout, "no answer", false},
		{&sdk.Error{Code: sdk.CodeNotImplemented, Message: "no refresh"}, 501, sdk.CodeNotImplemented, "no refresh", false},
		{&sdk.Error{Code: "made_up_by_a_plugin", Message: "?"}, 500, "made_up_by_a_plugin", "?", false},
		// An error that is no connector error is a general one, its text kept.
		{errors.New("something broke"), 500, sdk.CodeGeneral, "something broke", false},
		// Wrapped, it keeps its code.
		{fmt.Errorf("calling: %w", &sdk.Error{Code: sdk.CodeAuthorizationFailed, Message: "denied"}), 401, sdk.CodeAuthorizationFailed, "denied", false},
	} {
		t.Run(string(tc.code), func(t *testing.T) {
			f := &fakeInstances{callErr: tc.err}
			res := call(t, newUnitServer(t, f, nil), "POST", "/v1/connectors/acme/refresh", "", `{"refreshToken":"rt"}`)
			if res.status != tc.status || res.body.Code != tc.code || res.body.Message != tc.message {
				t.Fatalf("got %d %s %q; want %d %s %q (%s)", res.status, res.body.Code, res.body.Message, tc.status, tc.code, tc.message, res.raw)
			}
			if got := res.header.Get("Retry-After") != ""; got != tc.retry {
				t.Errorf("Retry-After set: %v, want %v", got, tc.retry)
			}
			if ct := res.header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("Content-Type = %q", ct)
			}
			if cc := res.header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q", cc)
			}
			var e *sdk.Error
			if errors.As(tc.err, &e) && e.Details != nil && res.body.Details["error"] != e.Details["error"] {
				t.Errorf("details = %v, want %v", res.body.Details, e.Details)
			}
		})
	}
}

// TestAPIRequestValidation refuses bad /v1 bodies with a 4xx that names what is
// wrong, before any plugin is called.
func TestAPIRequestValidation(t *testing.T) {
	const authPath = "/v1/connectors/acme/authorization-uri"
	big := `{"redirectUri":"https://app.test/cb","state":"` + strings.Repeat("a", 5000) + `"}`
	for _, tc := range []struct {
		name, path, body string
		status           int
		code             sdk.ErrorCode
		message          string
	}{
		{"empty body", authPath, "", 400, sdk.CodeInvalidRequestParameters, "must be a JSON object"},
		{"bad JSON", authPath, `{"redirectUri":`, 400, sdk.CodeInvalidRequestParameters, "the request body is not valid"},
		{"not an object", authPath, `["https://app.test/cb"]`, 400, sdk.CodeInvalidRequestParameters, "the request body is not valid: it must be a JSON object, not a list"},
		{"a number for a string", authPath, `{"redirectUri":42}`, 400, sdk.CodeInvalidRequestParameters, "the request body is not valid: redirectUri must be a string, not a number"},
		{"unknown field", authPath, `{"redirectUri":"https://app.test/cb","redirect_uri":"x"}`, 400, sdk.CodeInvalidRequestParameters, `unknown field "redirect_uri"`},
		{"two objects", authPath, `{"redirectUri":"https://app.test/cb"} {}`, 400, sdk.CodeInvalidRequestParameters, "one JSON object"},
		// Which of two values a parser keeps is a guess another parser may make
		// differently: the one checked could differ from the one used.
		{"a name twice", authPath, `{"redirectUri":"https://app.test/cb","redirectUri":"https://evil.test/cb"}`, 400, sdk.CodeInvalidRequestParameters, `duplicate object member name "redirectUri"`},
		{"a name twice, in another case", authPath, `{"redirectUri":"https://app.test/cb","RedirectURI":"https://evil.test/cb"}`, 400, sdk.CodeInvalidRequestParameters, `duplicate object member name "RedirectURI"`},
		{"a callback value twice", "/v1/connectors/acme/user-info", `{"session":"x","data":{"code":"a","code":"b"}}`, 400, sdk.CodeInvalidRequestParameters, `duplicate object member name "code"`},
		{"invalid UTF-8", authPath, "{\"redirectUri\":\"https://app.test/cb\",\"state\":\"\xff\"}", 400, sdk.CodeInvalidRequestParameters, "invalid UTF-8"},
		{"wrong type", authPath, `{"redirectUri":42}`, 400, sdk.CodeInvalidRequestParameters, "redirectUri"},
		{"missing redirectUri", authPath, `{"state":"s"}`, 400, sdk.CodeInsufficientRequestParameters, "redirectUri is required"},
		{"relative redirectUri", authPath, `{"redirectUri":"/cb"}`, 400, sdk.CodeInvalidRequestParameters, "absolute http(s) URL"},
		{"javascript redirectUri", authPath, `{"redirectUri":"javascript:alert(1)"}`, 400, sdk.CodeInvalidRequestParameters, "absolute http(s) URL"},
		{"redirectUri with fragment", authPath, `{"redirectUri":"https://app.test/cb#x"}`, 400, sdk.CodeInvalidRequestParameters, "without a fragment"},
		{"long redirectUri", authPath, `{"redirectUri":"https://app.test/` + strings.Repeat("a", maxRedirectURILen) + `"}`, 400, sdk.CodeInvalidRequestParameters, "redirectUri is"},
		{"state with a newline", authPath, `{"redirectUri":"https://app.test/cb","state":"a\nb"}`, 400, sdk.CodeInvalidRequestParameters, "state must be printable ASCII"},
		{"long state", authPath, `{"redirectUri":"https://app.test/cb","state":"` + strings.Repeat("a", maxStateLen+1) + `"}`, 400, sdk.CodeInvalidRequestParameters, "state is 513 bytes"},
		{"bad scope", authPath, `{"redirectUri":"https://app.test/cb","scope":"a  b"}`, 400, sdk.CodeInvalidRequestParameters, "scope must be scope tokens"},
		{"oversized body", authPath, big, 413, CodeRequestTooLarge, "the request body is over 4096 bytes"},
		{"user-info without session", "/v1/connectors/acme/user-info", `{"data":{}}`, 400, sdk.CodeInsufficientRequestParameters, "session is required"},
		{"user-info with an array value", "/v1/connectors/acme/user-info", `{"session":"x","data":{"code":["a"]}}`, 400, sdk.CodeInvalidRequestParameters, "data.code must be a string, got an array"},
		{"user-info with a forged session", "/v1/connectors/acme/user-info", `{"session":"forged","data":{"code":"c"}}`, 400, CodeSessionInvalid, "the session is not valid"},
		{"refresh without token", "/v1/connectors/acme/refresh", `{}`, 400, sdk.CodeInsufficientRequestParameters, "refreshToken is required"},
		{"refresh with unknown field", "/v1/connectors/acme/refresh", `{"refresh_token":"x"}`, 400, sdk.CodeInvalidRequestParameters, `unknown field "refresh_token"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeInstances{auth: &sdk.Authorization{RedirectTo: "https://acme.test/auth"}}
			srv := newUnitServer(t, f, func(s *Settings) { s.MaxBodyBytes = 4096 })
			res := call(t, srv, "POST", tc.path, "", tc.body)
			if res.status != tc.status || res.body.Code != tc.code || !strings.Contains(res.body.Message, tc.message) {
				t.Fatalf("got %d %s %q; want %d %s with %q", res.status, res.body.Code, res.body.Message, tc.status, tc.code, tc.message)
			}
			if calls := f.called(); len(calls) != 0 {
				t.Errorf("the plugin was called (%v) for a request refused before it", calls)
			}
		})
	}
}

// TestListAndDescribeShapes checks the JSON of the connector list and of one
// connector, field names included, and an unknown id.
func TestListAndDescribeShapes(t *testing.T) {
	srv := newUnitServer(t, &fakeInstances{}, nil)
	res := call(t, srv, "GET", "/v1/connectors", "", "")
	var list map[string][]map[string]any
	if err := json.Unmarshal(res.raw, &list); err != nil || res.status != 200 {
		t.Fatalf("list: %d %s", res.status, res.raw)
	}
	if len(list) != 1 || len(list["connectors"]) != 1 {
		t.Fatalf("list = %s", res.raw)
	}
	got := list["connectors"][0]
	want := map[string]any{"id": "acme", "plugin": "oauth2", "target": "acme-id", "platform": "Universal",
		"name": map[string]any{"en": "Acme"}, "logo": "https://acme.test/logo.png", "logoDark": "", "isStandard": true}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("list entry = %v\nwant %v", got, want)
	}

	res = call(t, srv, "GET", "/v1/connectors/acme", "", "")
	var detail map[string]any
	if err := json.Unmarshal(res.raw, &detail); err != nil || res.status != 200 {
		t.Fatalf("describe: %d %s", res.status, res.raw)
	}
	for k, v := range want {
		if fmt.Sprint(detail[k]) != fmt.Sprint(v) {
			t.Errorf("describe %s = %v, want %v", k, detail[k], v)
		}
	}
	if detail["readme"] != "# Acme" || fmt.Sprint(detail["description"]) != "map[en:Sign in with Acme]" {
		t.Errorf("describe = %s", res.raw)
	}
	items, _ := detail["formItems"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["key"] != "clientId" {
		t.Errorf("formItems = %v", detail["formItems"])
	}

	res = call(t, srv, "GET", "/v1/connectors/nope", "", "")
	if res.status != 404 || res.body.Code != host.CodeInstanceNotFound || !strings.Contains(res.body.Message, `"nope"`) {
		t.Errorf("unknown connector: %d %s %q", res.status, res.body.Code, res.body.Message)
	}
}

// TestAPIKeyCheck: without keys /v1 is open; with keys a request needs one of
// them, and learns nothing of the routes without it.
func TestAPIKeyCheck(t *testing.T) {
	open := newUnitServer(t, &fakeInstances{}, nil)
	if res := call(t, open, "GET", "/v1/connectors", "", ""); res.status != 200 {
		t.Fatalf("no keys configured: %d", res.status)
	}

	other := "second-api-key-0123456789-0123456789-abcdef"
	srv := newUnitServer(t, &fakeInstances{}, func(s *Settings) { s.APIKeys = []apikey.Key{apikey.Unscoped(testAPIKey), apikey.Unscoped(other)} })
	for _, key := range []string{testAPIKey, other} {
		if res := call(t, srv, "GET", "/v1/connectors", key, ""); res.status != 200 {
			t.Errorf("a configured key: %d %s", res.status, res.raw)
		}
	}

	res := call(t, srv, "GET", "/v1/connectors", "", "")
	if res.status != 401 || res.body.Code != CodeUnauthorized || res.header.Get("WWW-Authenticate") != `Bearer realm="idplug"` {
		t.Errorf("no key: %d %s %q", res.status, res.body.Code, res.header.Get("WWW-Authenticate"))
	}
	for _, bad := range []string{testAPIKey + "x", testAPIKey[:len(testAPIKey)-1], strings.ToUpper(testAPIKey)} {
		res := call(t, srv, "GET", "/v1/connectors", bad, "")
		if res.status != 401 || res.body.Code != CodeUnauthorized || !strings.Contains(res.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Errorf("wrong key %q: %d %s %q", bad, res.status, res.body.Code, res.header.Get("WWW-Authenticate"))
		}
	}
	// Another scheme, or the key without a scheme, is no key (the scheme's
	// case does not matter: TestAuthorizationHeaderForms).
	for _, header := range []string{"Basic " + testAPIKey, testAPIKey} {
		req := httptest.NewRequest("GET", "/v1/connectors", nil)
		req.Header.Set("Authorization", header)
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code != 401 {
			t.Errorf("Authorization: %q gave %d", header, rec.Code)
		}
	}
	// Neither an unknown route nor a wrong method shows before the key.
	for _, probe := range [][2]string{{"GET", "/v1/no-such-route"}, {"GET", "/v1/connectors/acme/refresh"}, {"POST", "/v1/admin/reload"}} {
		if res := call(t, srv, probe[0], probe[1], "", ""); res.status != 401 {
			t.Errorf("%s %s without a key: %d", probe[0], probe[1], res.status)
		}
	}
	// The browser routes and health need no key.
	if res := call(t, srv, "GET", "/healthz", "", ""); res.status != 200 {
		t.Errorf("/healthz: %d", res.status)
	}
}

// TestWrongKeysAreThrottled: past the limit of wrong keys an address gets 429,
// even with the right key, and another address is not affected.
func TestWrongKeysAreThrottled(t *testing.T) {
	srv := newUnitServer(t, &fakeInstances{}, func(s *Settings) { s.APIKeys = []apikey.Key{apikey.Unscoped(testAPIKey)} })
	for range maxKeyFailures {
		if res := call(t, srv, "GET", "/v1/connectors", "guess", ""); res.status != 401 {
			t.Fatalf("a wrong key: %d", res.status)
		}
	}
	res := call(t, srv, "GET", "/v1/connectors", testAPIKey, "")
	if res.status != 429 || res.body.Code != CodeTooManyAttempts || res.header.Get("Retry-After") == "" {
		t.Fatalf("after %d wrong keys: %d %s Retry-After %q", maxKeyFailures, res.status, res.body.Code, res.header.Get("Retry-After"))
	}
	req := httptest.NewRequest("GET", "/v1/connectors", nil)
	req.RemoteAddr = "198.51.100.20:1234"
	req.Header.Set("Authorization", "Bearer "+testAPIKey)
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Errorf("another address: %d", rec.Code)
	}
}

// The Authorization header as RFC 7235 writes it: the scheme in any case,
// any spaces after it. Two headers are refused (the first had counted, the
// second was ignored), and a wrong scheme is named as such.
func TestAuthorizationHeaderForms(t *testing.T) {
	srv := newUnitServer(t, &fakeInstances{}, func(s *Settings) { s.APIKeys = []apikey.Key{apikey.Unscoped(testAPIKey)} })
	for _, tc := range []struct {
		name    string
		headers []string
		status  int
		says    string
	}{
		{"lower-case scheme", []string{"bearer " + testAPIKey}, 200, ""},
		{"two spaces", []string{"Bearer  " + testAPIKey}, 200, ""},
		{"another scheme", []string{"Basic " + testAPIKey}, 401, "the Authorization scheme must be Bearer, not Basic"},
		{"two headers, the right one first", []string{"Bearer " + testAPIKey, "Bearer wrong"}, 401, "send one Authorization header, not several"},
		{"no key", []string{"Bearer "}, 401, "an API key is required"},
	} {
		req := httptest.NewRequest("GET", "/v1/connectors", nil)
		req.RemoteAddr = "192.0.2.30:40000"
		for _, h := range tc.headers {
			req.Header.Add("Authorization", h)
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.says) {
			t.Errorf("%s: %d %s", tc.name, rec.Code, rec.Body)
		}
	}
}

// A /v1 path not in its plain form is a JSON 404 naming the plain one: the
// router had redirected it (307), and a client follows a 307 with its body
// and its API key. A %2F inside a value is no separator.
func TestPathsNotInTheirPlainForm(t *testing.T) {
	srv := newUnitServer(t, &fakeInstances{}, nil)
	for _, p := range []string{"/v1//connectors/acme/authorization-uri", "/v1/connectors/x/../acme/authorization-uri", "/v1/connectors/acme/authorization-uri/"} {
		req := httptest.NewRequest("POST", "/", strings.NewReader(`{"redirectUri":"https://app.test/cb"}`))
		req.URL.Path, req.URL.RawPath = p, ""
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code != 404 || rec.Header().Get("Location") != "" || !strings.Contains(rec.Body.String(), "the route is /v1/connectors/acme/authorization-uri") {
			t.Errorf("%s: %d %s (Location %q)", p, rec.Code, rec.Body, rec.Header().Get("Location"))
		}
	}
	// With API keys, the key comes first, as for every /v1 path: 401 without
	// one (the 404 had answered before any key was asked), 404 with one.
	keyed := newUnitServer(t, &fakeInstances{}, func(s *Settings) {
		s.KeylessAPI = false
		s.APIKeys = []apikey.Key{apikey.Unscoped(testAPIKey)}
	})
	for _, p := range []string{"/v1/connectors/", "/v1//connectors", "/v1/connectors/acme/users/bob/../alice/tokens"} {
		if res := call(t, keyed, "DELETE", p, "", ""); res.status != 401 {
			t.Errorf("%s without a key: %d, want 401", p, res.status)
		}
		if res := call(t, keyed, "DELETE", p, testAPIKey, ""); res.status != 404 {
			t.Errorf("%s with the key: %d, want 404", p, res.status)
		}
	}
}

// TestWrongMethodAndUnknownRoute: a known path asked with another method is a
// 405 with Allow; an unknown one a 404, both as JSON errors.
func TestWrongMethodAndUnknownRoute(t *testing.T) {
	srv := newUnitServer(t, &fakeInstances{}, nil)
	res := call(t, srv, "GET", "/v1/connectors/acme/authorization-uri", "", "")
	if res.status != 405 || res.body.Code != CodeMethodNotAllowed || res.header.Get("Allow") != "POST" {
		t.Errorf("GET authorization-uri: %d %s Allow %q", res.status, res.body.Code, res.header.Get("Allow"))
	}
	res = call(t, srv, "PUT", "/v1/connectors/acme/users/u1/tokens", "", "")
	if res.status != 405 || res.header.Get("Allow") != "GET, HEAD, DELETE" {
		t.Errorf("PUT tokens: %d Allow %q", res.status, res.header.Get("Allow"))
	}
	res = call(t, srv, "GET", "/v1/nothing-here", "", "")
	if res.status != 404 || res.body.Code != CodeNotFound {
		t.Errorf("unknown route: %d %s", res.status, res.body.Code)
	}
	// Without a Reload function the route does not exist.
	if res := call(t, srv, "POST", "/v1/admin/reload", "", ""); res.status != 404 {
		t.Errorf("reload without Reload: %d", res.status)
	}
}

// TestSignInThroughTheAPI runs authorization-uri then user-info against the
// fake: the caller's redirectUri, state and scope reach the plugin, the sealed
// session carries the plugin's session back, and the callback data arrive as
// strings.
func TestSignInThroughTheAPI(t *testing.T) {
	f := &fakeInstances{
		auth: &sdk.Authorization{RedirectTo: "https://acme.test/auth?x=1", Session: sdk.Session{"verifier": "v-123"}},
		userInfo: &sdk.UserInfoResult{UserInfo: sdk.UserInfo{ID: "u-1", Email: sdk.String("u@acme.test")},
			Tokens: &sdk.TokenSet{AccessToken: "at", TokenType: "Bearer"}},
	}
	srv := newUnitServer(t, f, nil)
	res := call(t, srv, "POST", "/v1/connectors/acme/authorization-uri", "",
		`{"redirectUri":"https://app.test/cb","state":"st-1","scope":"openid email"}`)
	var auth authorizationResponse
	if err := json.Unmarshal(res.raw, &auth); err != nil || res.status != 200 {
		t.Fatalf("authorization-uri: %d %s", res.status, res.raw)
	}
	if auth.RedirectTo != "https://acme.test/auth?x=1" || auth.State != "st-1" || auth.Session == "" {
		t.Fatalf("authorization-uri = %+v", auth)
	}
	if f.request != (sdk.AuthorizationRequest{InstanceID: "acme", RedirectURI: "https://app.test/cb", State: "st-1", Scope: "openid email"}) {
		t.Errorf("the plugin got %+v", f.request)
	}
	if strings.Contains(auth.Session, "v-123") {
		t.Error("the plugin's session shows through the sealed session")
	}

	body, _ := json.Marshal(map[string]any{"session": auth.Session, "data": map[string]any{"code": "c-1", "state": "st-1", "n": 7}})
	res = call(t, srv, "POST", "/v1/connectors/acme/user-info", "", string(body))
	var info struct {
		UserInfo map[string]any `json:"userInfo"`
		Tokens   map[string]any `json:"tokens"`
	}
	if err := json.Unmarshal(res.raw, &info); err != nil || res.status != 200 {
		t.Fatalf("user-info: %d %s", res.status, res.raw)
	}
	if info.UserInfo["id"] != "u-1" || info.UserInfo["email"] != "u@acme.test" || info.Tokens["accessToken"] != "at" {
		t.Errorf("user-info = %s", res.raw)
	}
	if f.session["verifier"] != "v-123" || f.data["code"] != "c-1" || f.data["n"] != "7" {
		t.Errorf("the plugin got session %v, data %v", f.session, f.data)
	}

	// Without a state the host makes one; a flow sealed for acme does not open for another connector.
	res = call(t, srv, "POST", "/v1/connectors/acme/authorization-uri", "", `{"redirectUri":"https://app.test/cb"}`)
	_ = json.Unmarshal(res.raw, &auth)
	if res.status != 200 || len(auth.State) < 40 || f.request.State != auth.State || f.request.Scope != "" {
		t.Errorf("generated state %q, the plugin got %+v", auth.State, f.request)
	}
	body, _ = json.Marshal(map[string]any{"session": auth.Session, "data": map[string]any{"code": "c"}})
	res = call(t, srv, "POST", "/v1/connectors/other/user-info", "", string(body))
	if res.status != 400 || res.body.Code != CodeSessionInvalid {
		t.Errorf("acme's session at another connector: %d %s", res.status, res.body.Code)
	}
}

// A callback for a connector a reload has just removed spends nothing: put
// back, it finishes the sign-in, which had become session_used though never used.
func TestARemovedConnectorSpendsNoSession(t *testing.T) {
	f := &fakeInstances{
		auth:     &sdk.Authorization{RedirectTo: "https://acme.test/auth", Session: sdk.Session{"verifier": "v"}},
		userInfo: &sdk.UserInfoResult{UserInfo: sdk.UserInfo{ID: "u-1"}},
	}
	inst := &togglingInstances{fakeInstances: f}
	st := sqliteStore(t)
	srv := newUnitServer(t, inst, func(s *Settings) { s.Store = st })
	res := call(t, srv, "POST", "/v1/connectors/acme/authorization-uri", "", `{"redirectUri":"https://app.test/cb","state":"st"}`)
	var auth authorizationResponse
	if err := json.Unmarshal(res.raw, &auth); err != nil || res.status != 200 {
		t.Fatalf("authorization-uri: %d %s", res.status, res.raw)
	}
	body, _ := json.Marshal(map[string]any{"session": auth.Session, "data": map[string]any{"code": "c", "state": "st"}})
	inst.removed.Store(true)
	if res := call(t, srv, "POST", "/v1/connectors/acme/user-info", "", string(body)); res.status != 404 || res.body.Code != host.CodeInstanceNotFound {
		t.Fatalf("user-info while the connector is removed: %d %s", res.status, res.raw)
	}
	inst.removed.Store(false)
	if res := call(t, srv, "POST", "/v1/connectors/acme/user-info", "", string(body)); res.status != 200 {
		t.Fatalf("user-info once it is back: %d %s", res.status, res.raw)
	}
	if res := call(t, srv, "POST", "/v1/connectors/acme/user-info", "", string(body)); res.status != 400 || res.body.Code != CodeSessionUsed {
		t.Errorf("the same session again: %d %s, want session_used", res.status, res.raw)
	}
}

// TestPluginAnswersAreChecked: a plugin that sends the browser to a script URL,
// or returns a session too large to seal, is blamed by name.
func TestPluginAnswersAreChecked(t *testing.T) {
	for name, auth := range map[string]*sdk.Authorization{
		"script URL":   {RedirectTo: "javascript:alert(1)"},
		"relative URL": {RedirectTo: "/elsewhere"},
		"huge session": {RedirectTo: "https://acme.test/auth", Session: sdk.Session{"x": strings.Repeat("a", seal.MaxPayloadLen)}},
	} {
		t.Run(name, func(t *testing.T) {
			srv := newUnitServer(t, &fakeInstances{auth: auth}, nil)
			res := call(t, srv, "POST", "/v1/connectors/acme/authorization-uri", "", `{"redirectUri":"https://app.test/cb"}`)
			if res.status != 400 || res.body.Code != sdk.CodeInvalidResponse ||
				!strings.HasPrefix(res.body.Message, "connector acme (plugin oauth2) returned ") {
				t.Errorf("got %d %s %q", res.status, res.body.Code, res.body.Message)
			}
		})
	}
}

// TestReadyz maps the host's status to 200 or 503, and keeps the server's paths
// out of the public answer.
func TestReadyz(t *testing.T) {
	f := &fakeInstances{status: host.Status{Ready: false, Plugins: []host.PluginStatus{},
		Refused: []catalog.Entry{{File: "/opt/idplug/plugins/idplug-connector-x", Reason: "/opt/idplug/plugins/SHA256SUMS is writable by other users"}}}}
	srv := newUnitServer(t, f, nil)
	res := call(t, srv, "GET", "/readyz", "", "")
	if res.status != 503 || strings.Contains(string(res.raw), "/opt/") ||
		!strings.Contains(string(res.raw), `"file":"idplug-connector-x"`) || !strings.Contains(string(res.raw), "SHA256SUMS is writable") {
		t.Errorf("public /readyz: %d %s", res.status, res.raw)
	}
	if res := call(t, srv.AdminHandler(), "GET", "/readyz", "", ""); res.status != 503 || !strings.Contains(string(res.raw), "/opt/idplug/plugins/idplug-connector-x") {
		t.Errorf("admin /readyz: %d %s", res.status, res.raw)
	}

	f.status = host.Status{Ready: true}
	bare := newUnitServer(t, f, func(s *Settings) { s.SeparateAdmin = true })
	if res := call(t, bare, "GET", "/readyz", "", ""); res.status != 200 || strings.TrimSpace(string(res.raw)) != `{"ready":true}` {
		t.Errorf("bare /readyz: %d %s", res.status, res.raw)
	}
}

// TestReloadRoute: a refused configuration is a 400 invalid_config carrying
// the field problems; an applied one reports the connectors now served.
func TestReloadRoute(t *testing.T) {
	var refuse error
	srv := newUnitServer(t, &fakeInstances{}, func(s *Settings) {
		s.Reload = func(context.Context) error { return refuse }
	})
	res := call(t, srv, "POST", "/v1/admin/reload", "", "")
	if res.status != 200 || strings.TrimSpace(string(res.raw)) != `{"connectors":1,"status":"reloaded"}` {
		t.Errorf("reload: %d %s", res.status, res.raw)
	}
	if res := call(t, srv, "POST", "/v1/admin/reload", "", "{}"); res.status != 200 {
		t.Errorf("reload with {}: %d %s", res.status, res.raw)
	}
	// A body that names anything is refused, not ignored.
	if res := call(t, srv, "POST", "/v1/admin/reload", "", `{"config":"other.yaml"}`); res.status != 400 || !strings.Contains(res.body.Message, "takes no body") {
		t.Errorf("reload with a body: %d %s", res.status, res.raw)
	}
	refuse = &host.ValidationError{Problems: []host.Problem{{Instance: "acme", Field: "clientId", Message: "is required"}}}
	res = call(t, srv, "POST", "/v1/admin/reload", "", "")
	problems, _ := res.body.Details["problems"].([]any)
	if res.status != 400 || res.body.Code != sdk.CodeInvalidConfig ||
		!strings.HasPrefix(res.body.Message, "the new configuration was refused; the old one keeps serving: ") || len(problems) != 1 {
		t.Errorf("refused reload: %d %s", res.status, res.raw)
	}
	// The file's own problems are listed too, each with its line.
	refuse = &config.Error{Problems: []config.Problem{{Field: "log_levl", Message: "unknown key; did you mean log_level?", Line: 3}}}
	res = call(t, srv, "POST", "/v1/admin/reload", "", "")
	problems, _ = res.body.Details["problems"].([]any)
	if len(problems) != 1 {
		t.Fatalf("refused file: %d %s", res.status, res.raw)
	}
	if first, _ := problems[0].(map[string]any); res.status != 400 || first["line"] != float64(3) || first["field"] != "log_levl" {
		t.Errorf("refused file: %d %s", res.status, res.raw)
	}
	refuse = errors.New("[call_timeout] changed: these settings need a restart")
	res = call(t, srv, "POST", "/v1/admin/reload", "", "")
	if res.status != 400 || !strings.HasSuffix(res.body.Message, "these settings need a restart") || res.body.Details != nil {
		t.Errorf("refused change: %d %s", res.status, res.raw)
	}
	// A store that does not answer (the provider's signing keys are read from
	// it) is not the file's fault: 503, and the same file may be tried again.
	refuse = fmt.Errorf("provider: signing keys: %w: signing_keys: connection refused", store.ErrUnavailable)
	res = call(t, srv, "POST", "/v1/admin/reload", "", "")
	if res.status != 503 || res.body.Code != CodeStoreUnavailable || strings.Contains(res.body.Message, "connection refused") {
		t.Errorf("reload without the store: %d %s", res.status, res.raw)
	}
}

// TestVaultRoutesWithoutAVault: the token routes of an unknown connector are
// connector_not_found, of one that keeps no tokens a 404 saying how to turn
// it on, and the plugin is never asked.
func TestVaultRoutesWithoutAVault(t *testing.T) {
	f := &fakeInstances{}
	srv := newUnitServer(t, f, nil)
	srv.SetTokenStorage([]string{"acme"}) // asked for, but there is no store nor vault
	for _, method := range []string{"GET", "DELETE"} {
		res := call(t, srv, method, "/v1/connectors/nope/users/u1/tokens", "", "")
		if res.status != 404 || res.body.Code != host.CodeInstanceNotFound {
			t.Errorf("%s unknown connector: %d %s", method, res.status, res.body.Code)
		}
		res = call(t, srv, method, "/v1/connectors/acme/users/u1/tokens", "", "")
		if res.status != 404 || res.body.Code != CodeNotFound || !strings.Contains(res.body.Message, "set storeTokens: true") {
			t.Errorf("%s without a vault: %d %s %q", method, res.status, res.body.Code, res.body.Message)
		}
	}
	if calls := f.called(); len(calls) != 0 {
		t.Errorf("the plugin was called: %v", calls)
	}
}

// tokensDown is a store whose writes of tokens fail as a database that went
// away would.
type tokensDown struct{ store.Store }

func (tokensDown) PutTokens(context.Context, store.TokenRecord) error {
	return fmt.Errorf("%w: put_tokens: database or disk is full", store.ErrUnavailable)
}

// A sign-in whose tokens cannot be kept has spent the provider's code: its
// answer says to start again, not to retry the callback, which could only be
// session_used.
func TestTokensThatCannotBeKeptSayStartAgain(t *testing.T) {
	f := signingIn("ada")
	f.userInfo.Tokens = &sdk.TokenSet{AccessToken: "at", RefreshToken: "rt"}
	srv := newUnitServer(t, f, func(s *Settings) { s.Store, s.Vault = tokensDown{sqliteStore(t)}, testVault(t) })
	srv.SetTokenStorage([]string{"acme"})
	res, body := apiSignIn(t, srv)
	if res.status != 503 || res.body.Code != CodeStoreUnavailable || !strings.Contains(res.body.Message, "start the sign-in again") ||
		strings.Contains(res.body.Message, "disk") {
		t.Errorf("tokens not kept: %d %s", res.status, res.raw)
	}
	if res := call(t, srv, "POST", "/v1/connectors/acme/user-info", "", body); res.body.Code != CodeSessionUsed {
		t.Errorf("the same callback again: %d %s; the answer above must not say to retry it", res.status, res.raw)
	}
}

// apiSignIn signs in with acme through /v1, as an app does: the authorization
// URL, then the callback's data with its session. It returns user-info's answer
// and the body it sent, for a replay.
func apiSignIn(t *testing.T, srv http.Handler) (response, string) {
	t.Helper()
	body := apiStart(t, srv)
	return call(t, srv, "POST", "/v1/connectors/acme/user-info", "", body), body
}

// apiStart starts a sign-in with acme through /v1 and returns the body of
// its user-info request.
func apiStart(t *testing.T, srv http.Handler) string {
	t.Helper()
	res := call(t, srv, "POST", "/v1/connectors/acme/authorization-uri", "", `{"redirectUri":"https://app.test/cb","state":"state-0123456789"}`)
	var auth struct {
		Session string `json:"session"`
	}
	if err := json.Unmarshal(res.raw, &auth); res.status != 200 || err != nil {
		t.Fatalf("authorization-uri: %d %s", res.status, res.raw)
	}
	body, _ := json.Marshal(map[string]any{"session": auth.Session, "data": map[string]any{"code": "c", "state": "state-0123456789"}})
	return string(body)
}

// testVault is a vault under one fixed key.
func testVault(t testing.TB) *vault.Vault {
	t.Helper()
	v, err := vault.New([][]byte{[]byte("vault-0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	return v
}
