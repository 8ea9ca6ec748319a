package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/idplug/idplug/host/seal"
)

const exampleConfig = `
listen: 127.0.0.1:0
public_url: http://127.0.0.1:1
plugin_dir: PLUGIN_DIR
session_keys: ["${IDPLUG_SESSION_KEY}"]
api_keys: ["k1-0123456789", "k2-0123456789"]
log_format: json
connectors:
  - id: demo
    plugin: example
    name: {en: Demo ID}
    config:
      authorizationEndpoint: https://id.example.test/authorize
      clientId: demo-client
  - id: other
    plugin: example
    config:
      authorizationEndpoint: https://other.example.test/authorize
      clientId: other-client
      greeting: Hi
`

func TestAPIListDescribeAndSignIn(t *testing.T) {
	p := startIdplug(t, pluginFolder(t, "example"), exampleConfig)

	status, body := p.call(t, "GET", "/v1/connectors", "k1-0123456789", nil)
	mustEqual(t, "status", status, 200)
	mustEqual(t, "connectors[0].id", jsonPath(body, "connectors", 0, "id"), "demo")
	mustEqual(t, "connectors[0].name.en", jsonPath(body, "connectors", 0, "name", "en"), "Demo ID")
	mustEqual(t, "connectors[1].target", jsonPath(body, "connectors", 1, "target"), "other")
	mustEqual(t, "connectors[0].platform", jsonPath(body, "connectors", 0, "platform"), "Universal")
	mustEqual(t, "connectors[0].isStandard", jsonPath(body, "connectors", 0, "isStandard"), true)

	// The second key works too (rotation of API keys).
	status, body = p.call(t, "GET", "/v1/connectors/other", "k2-0123456789", nil)
	mustEqual(t, "status", status, 200)
	mustEqual(t, "description", jsonPath(body, "description", "en") != nil, true)
	mustEqual(t, "formItems[0].key", jsonPath(body, "formItems", 0, "key"), "authorizationEndpoint")
	mustEqual(t, "readme", strings.HasPrefix(jsonPath(body, "readme").(string), "# Example ID"), true)

	status, body = p.call(t, "POST", "/v1/connectors/demo/authorization-uri", "k1-0123456789",
		map[string]any{"redirectUri": "https://app.test/cb"})
	mustEqual(t, "status", status, 200)
	state := jsonPath(body, "state").(string)
	session := jsonPath(body, "session").(string)
	if len(state) < 40 || !strings.Contains(jsonPath(body, "redirectTo").(string), "state="+state) {
		t.Fatalf("authorization-uri = %v", body)
	}
	if strings.Contains(session, state) {
		t.Fatal("the session must be sealed, not readable")
	}
	status, body = p.call(t, "POST", "/v1/connectors/demo/user-info", "k1-0123456789",
		map[string]any{"session": session, "data": map[string]any{"code": "ada", "state": state}})
	mustEqual(t, "status", status, 200)
	mustEqual(t, "userInfo.id", jsonPath(body, "userInfo", "id"), "ada")
	mustEqual(t, "userInfo.name", jsonPath(body, "userInfo", "name"), "Hello, ada")
	mustEqual(t, "userInfo.rawData.sub", jsonPath(body, "userInfo", "rawData", "sub"), "ada")

	// A caller-chosen state is kept.
	_, body = p.call(t, "POST", "/v1/connectors/other/authorization-uri", "k1-0123456789",
		map[string]any{"redirectUri": "https://app.test/cb", "state": "my-state"})
	mustEqual(t, "state", jsonPath(body, "state"), "my-state")
}

func TestAPIRefusals(t *testing.T) {
	p := startIdplug(t, pluginFolder(t, "example"), exampleConfig)
	key := "k1-0123456789"
	_, auth := p.call(t, "POST", "/v1/connectors/demo/authorization-uri", key, map[string]any{"redirectUri": "https://app.test/cb"})
	session := jsonPath(auth, "session").(string)
	state := jsonPath(auth, "state").(string)

	expired := func() string {
		s, err := seal.New([][]byte{[]byte(testSessionKey)}, seal.WithClock(func() time.Time { return time.Now().Add(-time.Hour) }))
		if err != nil {
			t.Fatal(err)
		}
		tok, err := s.Seal("api-flow:demo", []byte(`{"s":{"state":"x"},"r":"https://app.test/cb","st":"x"}`), 10*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}()
	tampered := session[:len(session)-2] + map[bool]string{true: "AA", false: "BB"}[!strings.HasSuffix(session, "AA")]

	cases := []struct {
		name, method, path, key string
		body                    any
		status                  int
		code, message           string
	}{
		{"no API key", "GET", "/v1/connectors", "", nil, 401, "unauthorized", "an API key is required"},
		{"wrong API key", "GET", "/v1/connectors", "k1-wrong", nil, 401, "unauthorized", "not valid"},
		{"unknown connector", "GET", "/v1/connectors/nope", key, nil, 404, "connector_not_found", `no connector "nope"`},
		{"unknown route", "GET", "/v1/nothing", key, nil, 404, "not_found", "no such API route"},
		{"missing redirectUri", "POST", "/v1/connectors/demo/authorization-uri", key, map[string]any{}, 400, "insufficient_request_parameters", "redirectUri is required"},
		{"relative redirectUri", "POST", "/v1/connectors/demo/authorization-uri", key, map[string]any{"redirectUri": "/cb"}, 400, "invalid_request_parameters", "absolute http(s) URL"},
		{"unknown field", "POST", "/v1/connectors/demo/authorization-uri", key, map[string]any{"redirectUri": "https://a.test/", "extra": 1}, 400, "invalid_request_parameters", `unknown field "extra"`},
		{"not JSON", "POST", "/v1/connectors/demo/authorization-uri", key, []byte("redirectUri=x"), 400, "invalid_request_parameters", "not valid"},
		{"oversized body", "POST", "/v1/connectors/demo/authorization-uri", key, []byte(`{"redirectUri":"` + strings.Repeat("a", 70000) + `"}`), 413, "request_too_large", "over 65536 bytes"},
		{"missing session", "POST", "/v1/connectors/demo/user-info", key, map[string]any{"data": map[string]any{}}, 400, "insufficient_request_parameters", "session is required"},
		{"tampered session", "POST", "/v1/connectors/demo/user-info", key, map[string]any{"session": tampered, "data": map[string]any{"code": "a", "state": state}}, 400, "session_invalid", "altered"},
		{"garbage session", "POST", "/v1/connectors/demo/user-info", key, map[string]any{"session": "%%%", "data": map[string]any{}}, 400, "session_invalid", "not valid"},
		{"expired session", "POST", "/v1/connectors/demo/user-info", key, map[string]any{"session": expired, "data": map[string]any{"code": "a", "state": "x"}}, 400, "session_expired", "has expired"},
		{"session of another connector", "POST", "/v1/connectors/other/user-info", key, map[string]any{"session": session, "data": map[string]any{"code": "a", "state": state}}, 400, "session_invalid", "belongs to another connector"},
		{"callback with error", "POST", "/v1/connectors/demo/user-info", key, map[string]any{"session": session, "data": map[string]any{"error": "access_denied", "state": state}}, 401, "authorization_failed", "access_denied"},
		{"callback with forged state", "POST", "/v1/connectors/demo/user-info", key, map[string]any{"session": session, "data": map[string]any{"code": "a", "state": "forged"}}, 400, "invalid_request_parameters", "state does not match"},
		{"callback without code", "POST", "/v1/connectors/demo/user-info", key, map[string]any{"session": session, "data": map[string]any{"state": state}}, 400, "insufficient_request_parameters", "no code"},
		{"callback data not a string", "POST", "/v1/connectors/demo/user-info", key, map[string]any{"session": session, "data": map[string]any{"code": []string{"a"}}}, 400, "invalid_request_parameters", "data.code must be a string"},
		{"refresh not supported", "POST", "/v1/connectors/demo/refresh", key, map[string]any{"refreshToken": "rt"}, 501, "not_implemented", "cannot refresh"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := p.call(t, tc.method, tc.path, tc.key, tc.body)
			mustEqual(t, "status", status, tc.status)
			mustEqual(t, "code", jsonPath(body, "code"), tc.code)
			if msg, _ := jsonPath(body, "message").(string); !strings.Contains(msg, tc.message) {
				t.Fatalf("message = %q, want it to contain %q", msg, tc.message)
			}
		})
	}
	// Nothing secret reached the log: not the session key, not the API keys, not states.
	logs := p.logs.String()
	for _, secret := range []string{testSessionKey, key, "k2-0123456789", state, session} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds a secret: %q", secret)
		}
	}
}

func TestHealthReadinessAndMetrics(t *testing.T) {
	p := startIdplug(t, pluginFolder(t, "example"), exampleConfig)
	status, body := p.call(t, "GET", "/healthz", "", nil)
	mustEqual(t, "healthz", status, 200)
	status, body = p.call(t, "GET", "/readyz", "", nil)
	mustEqual(t, "readyz", status, 200)
	mustEqual(t, "ready", jsonPath(body, "ready"), true)
	mustEqual(t, "plugin", jsonPath(body, "plugins", 0, "id"), "example")

	p.call(t, "POST", "/v1/connectors/demo/authorization-uri", "k1-0123456789", map[string]any{"redirectUri": "https://app.test/cb"})
	resp, err := http.Get(p.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(resp.Body)
	mustEqual(t, "metrics status", resp.StatusCode, 200)
	for _, want := range []string{
		`idplug_connector_calls_total{code="ok",connector="demo",plugin="example",rpc="AuthorizationURI"} 1`,
		`idplug_connector_call_duration_seconds_count{connector="demo",plugin="example",rpc="AuthorizationURI"} 1`,
		`idplug_http_requests_total{route="POST /v1/connectors/{id}/authorization-uri",status="200"} 1`,
	} {
		if !strings.Contains(string(text), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestSignInReturnToMustStayOnSite(t *testing.T) {
	p := startIdplug(t, pluginFolder(t, "example"), exampleConfig)
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, bad := range []string{"https://evil.test/", "//evil.test/", "/\\evil.test", "javascript:alert(1)"} {
		resp, err := client.Get(p.URL + "/sign-in/demo?returnTo=" + url.QueryEscape(bad))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		mustEqual(t, "status for "+bad, resp.StatusCode, 400)
	}
	resp, err := client.Get(p.URL + "/sign-in/demo?returnTo=/account")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	mustEqual(t, "status", resp.StatusCode, 302)
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, "https://id.example.test/authorize?") || !strings.Contains(loc, url.QueryEscape("http://127.0.0.1:1/callback/demo")) {
		t.Fatalf("location = %s", loc)
	}
	var flow *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "idplug_flow" {
			flow = c
		}
	}
	if flow == nil || !flow.HttpOnly || flow.SameSite != http.SameSiteLaxMode || flow.Path != "/callback/demo" || flow.Secure {
		t.Fatalf("flow cookie = %+v", flow)
	}
	// A callback without the flow cookie is refused with a page that says why.
	resp, err = http.Get(p.URL + "/callback/demo?code=ada&state=x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	mustEqual(t, "callback without cookie", resp.StatusCode, 400)
}
