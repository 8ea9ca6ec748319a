package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/idplug/idplug/internal/plugintest"
	"github.com/idplug/idplug/internal/sysmon"

	"github.com/idplug/idplug/host/seal"
)

const exampleConfig = `
listen: 127.0.0.1:0
public_url: http://127.0.0.1:1
plugin_dir: PLUGIN_DIR
session_keys: ["${IDPLUG_SESSION_KEY}"]
api_keys: ["k1-0123456789abcdef0123456789abcdef", "k2-0123456789abcdef0123456789abcdef"]
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

	status, body := p.call(t, "GET", "/v1/connectors", "k1-0123456789abcdef0123456789abcdef", nil)
	mustEqual(t, "status", status, 200)
	mustEqual(t, "connectors[0].id", jsonPath(body, "connectors", 0, "id"), "demo")
	mustEqual(t, "connectors[0].name.en", jsonPath(body, "connectors", 0, "name", "en"), "Demo ID")
	mustEqual(t, "connectors[1].target", jsonPath(body, "connectors", 1, "target"), "other")
	mustEqual(t, "connectors[0].platform", jsonPath(body, "connectors", 0, "platform"), "Universal")
	mustEqual(t, "connectors[0].isStandard", jsonPath(body, "connectors", 0, "isStandard"), true)

	// The second key works too (rotation of API keys).
	status, body = p.call(t, "GET", "/v1/connectors/other", "k2-0123456789abcdef0123456789abcdef", nil)
	mustEqual(t, "status", status, 200)
	mustEqual(t, "description", jsonPath(body, "description", "en") != nil, true)
	mustEqual(t, "formItems[0].key", jsonPath(body, "formItems", 0, "key"), "authorizationEndpoint")
	mustEqual(t, "readme", strings.HasPrefix(jsonPath(body, "readme").(string), "# Example ID"), true)

	status, body = p.call(t, "POST", "/v1/connectors/demo/authorization-uri", "k1-0123456789abcdef0123456789abcdef",
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
	status, body = p.call(t, "POST", "/v1/connectors/demo/user-info", "k1-0123456789abcdef0123456789abcdef",
		map[string]any{"session": session, "data": map[string]any{"code": "ada", "state": state}})
	mustEqual(t, "status", status, 200)
	mustEqual(t, "userInfo.id", jsonPath(body, "userInfo", "id"), "ada")
	mustEqual(t, "userInfo.name", jsonPath(body, "userInfo", "name"), "Hello, ada")
	mustEqual(t, "userInfo.rawData.sub", jsonPath(body, "userInfo", "rawData", "sub"), "ada")

	// A caller-chosen state is kept.
	_, body = p.call(t, "POST", "/v1/connectors/other/authorization-uri", "k1-0123456789abcdef0123456789abcdef",
		map[string]any{"redirectUri": "https://app.test/cb", "state": "my-state"})
	mustEqual(t, "state", jsonPath(body, "state"), "my-state")
}

func TestAPIRefusals(t *testing.T) {
	p := startIdplug(t, pluginFolder(t, "example"), exampleConfig)
	key := "k1-0123456789abcdef0123456789abcdef"
	// Each flow finishes once: a case that reaches the plugin needs its own.
	flow := func() (string, string) {
		_, auth := p.call(t, "POST", "/v1/connectors/demo/authorization-uri", key, map[string]any{"redirectUri": "https://app.test/cb"})
		return jsonPath(auth, "session").(string), jsonPath(auth, "state").(string)
	}
	session, state := flow()
	session2, state2 := flow()
	session3, state3 := flow()

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
		// Not echoed back: what a client sent in an id's place.
		{"an id that cannot be one", "GET", "/v1/connectors/ACME", key, nil, 404, "connector_not_found", "no such connector: an id is [a-z0-9][a-z0-9-]*, at most 64 bytes"},
		{"a 7,000-byte id", "GET", "/v1/connectors/" + strings.Repeat("a", 7000), key, nil, 404, "connector_not_found", "no such connector: an id is"},
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
		{"replayed session", "POST", "/v1/connectors/demo/user-info", key, map[string]any{"session": session, "data": map[string]any{"code": "a", "state": state}}, 400, "session_used", "used already"},
		{"callback with forged state", "POST", "/v1/connectors/demo/user-info", key, map[string]any{"session": session2, "data": map[string]any{"code": "a", "state": "forged"}}, 400, "invalid_request_parameters", "state does not match"},
		{"callback without code", "POST", "/v1/connectors/demo/user-info", key, map[string]any{"session": session3, "data": map[string]any{"state": state3}}, 400, "insufficient_request_parameters", "data.code is required"},
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
	// The forged state spent nothing: the session finishes with its own.
	status, body := p.call(t, "POST", "/v1/connectors/demo/user-info", key, map[string]any{"session": session2, "data": map[string]any{"code": "a", "state": state2}})
	if status != 200 {
		t.Fatalf("the session after a callback with a forged state: %d %v", status, body)
	}
	// Nothing secret reached the log: not the session key, not the API keys, not states.
	logs := p.logs.String()
	for _, secret := range []string{testSessionKey, key, "k2-0123456789abcdef0123456789abcdef", state, session, state2, session2} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds a secret: %q", secret)
		}
	}
}

func TestHealthReadinessAndMetrics(t *testing.T) {
	p := startIdplug(t, pluginFolder(t, "example"), exampleConfig)
	status, body := p.call(t, "GET", "/healthz", "", nil)
	mustEqual(t, "healthz", status, 200)
	mustEqual(t, "healthz body", jsonPath(body, "status"), "ok")
	status, body = p.call(t, "GET", "/readyz", "", nil)
	mustEqual(t, "readyz", status, 200)
	mustEqual(t, "ready", jsonPath(body, "ready"), true)
	mustEqual(t, "plugin", jsonPath(body, "plugins", 0, "id"), "example")

	p.call(t, "POST", "/v1/connectors/demo/authorization-uri", "k1-0123456789abcdef0123456789abcdef", map[string]any{"redirectUri": "https://app.test/cb"})
	resp, err := http.Get(p.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(resp.Body)
	mustEqual(t, "metrics status", resp.StatusCode, 200)
	for _, want := range []string{
		// The public /metrics names no connector (metrics: {connector_labels: true} would).
		`idplug_connector_calls_total{code="ok",connector="",plugin="example",rpc="AuthorizationURI"} 1`,
		`idplug_connector_call_duration_seconds_count{connector="",plugin="example",rpc="AuthorizationURI"} 1`,
		`idplug_http_requests_total{route="POST /v1/connectors/{id}/authorization-uri",status="200"} 1`,
	} {
		if !strings.Contains(string(text), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// Request lines are written in batches (host/logsink): every one of them is
// there once idplug has stopped, in order, without query strings, and a line
// logged directly after them (shutting down) comes after them.
func TestAccessLogKeepsEveryRequest(t *testing.T) {
	p := startIdplug(t, pluginFolder(t, "example"), exampleConfig)
	const n = 25
	for i := range n {
		p.call(t, "GET", "/v1/connectors?page="+strconv.Itoa(i)+"&code=secret-code", "k1-0123456789abcdef0123456789abcdef", nil)
	}
	p.call(t, "GET", "/healthz", "", nil)
	p.stop(t)

	var routes []string
	shutdownAt, lastRequestAt := -1, -1
	for i, line := range strings.Split(strings.TrimSpace(p.logs.String()), "\n") {
		var entry map[string]any
		if json.Unmarshal([]byte(line), &entry) != nil {
			t.Fatalf("not a JSON log line: %q", line)
		}
		switch entry["@message"] {
		case "request":
			routes = append(routes, entry["route"].(string))
			lastRequestAt = i
			if strings.Contains(line, "secret-code") || strings.Contains(line, "page=") {
				t.Errorf("an access log line holds the query string: %s", line)
			}
		case "shutting down":
			shutdownAt = i
		}
	}
	want := append(slices.Repeat([]string{"GET /v1/connectors"}, n), "GET /healthz")
	if !slices.Equal(routes, want) {
		t.Fatalf("request lines: %q, want %d list requests then healthz", routes, n)
	}
	if shutdownAt < lastRequestAt {
		t.Fatalf("the shutdown line (line %d) came before the last request line (line %d)", shutdownAt, lastRequestAt)
	}
}

// idplug runs on one P while its requests come one at a time and on more as soon
// as they overlap (internal/procs); go_sched_gomaxprocs_threads shows which.
func TestServeProcsFollowTheRequestsInFlight(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("one CPU (or a CPU quota of one): idplug has one P anyway")
	}
	p := startIdplug(t, pluginFolder(t, "example"), exampleConfig)
	gomaxprocs := func() string {
		resp, err := http.Get(p.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		text, _ := io.ReadAll(resp.Body)
		for _, line := range strings.Split(string(text), "\n") {
			if v, ok := strings.CutPrefix(line, "go_sched_gomaxprocs_threads "); ok {
				return v
			}
		}
		t.Fatalf("/metrics has no go_sched_gomaxprocs_threads:\n%s", text)
		return ""
	}
	deadline := time.Now().Add(15 * time.Second)
	for gomaxprocs() != "1" {
		if time.Now().After(deadline) {
			t.Fatalf("still %s Ps after a stream of sequential requests", gomaxprocs())
		}
	}
	// Requests from 8 clients at once, until /metrics (read while they run) shows
	// more than one P: the tuner widens a moment after two requests overlap.
	for {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					if resp, err := http.Get(p.URL + "/healthz"); err == nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
				}
			}()
		}
		got := gomaxprocs()
		close(stop)
		wg.Wait()
		if got != "1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("still one P while requests overlapped")
		}
	}
}

// idplug serve runs again with its runtime's monitor kept awake (internal/sysmon),
// in the same process; an operator's own schedtrace setting is kept as it is.
func TestServeKeepsTheRuntimesMonitorAwake(t *testing.T) {
	dir := pluginFolder(t, "example")
	for _, c := range []struct{ set, want string }{
		{"", "GODEBUG=" + sysmon.Setting},
		{"madvdontneed=1", "GODEBUG=madvdontneed=1," + sysmon.Setting},
		{"schedtrace=0", "GODEBUG=schedtrace=0"},
	} {
		t.Setenv("GODEBUG", c.set)
		p := startIdplug(t, dir, exampleConfig)
		if strings.Contains(p.logs.String(), "monitor keeps its default") {
			t.Errorf("GODEBUG=%q: idplug says its monitor is at Go's default:\n%s", c.set, p.logs)
		}
		// Run again under its own name: an exec of /proc/self/exe would make it "exe".
		proc := "/proc/" + strconv.Itoa(p.cmd.Process.Pid)
		comm, err := os.ReadFile(proc + "/comm")
		if err != nil {
			t.Fatal(err)
		}
		if want := filepath.Base(p.cmd.Path); !strings.HasPrefix(want, strings.TrimSpace(string(comm))) {
			t.Errorf("GODEBUG=%q: the process is named %q, want %q", c.set, strings.TrimSpace(string(comm)), want)
		}
		environ, err := os.ReadFile(proc + "/environ")
		if errors.Is(err, os.ErrPermission) {
			t.Skip("idplug is not dumpable, and this test may not read its environment (it needs CAP_SYS_PTRACE)")
		}
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(strings.Split(string(environ), "\x00"), c.want) {
			t.Errorf("GODEBUG=%q: idplug runs without %s", c.set, c.want)
		}
		p.stop(t)
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
	flow := flowCookieOf(resp)
	if flow == nil || !flow.HttpOnly || flow.SameSite != http.SameSiteLaxMode || flow.Path != "/" || flow.Secure {
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

func TestSessionKeyRotationKeepsFlowsInProgress(t *testing.T) {
	dir := pluginFolder(t, "example")
	// One store for the restarts, as a deployment keeps: a database that
	// never saw the flow's run (a new one, a restored one) refuses it.
	db := filepath.Join(t.TempDir(), "idplug.db")
	withStore := func(config string) string { return config + "store: {url: \"sqlite:" + db + "\"}\n" }
	old := startIdplug(t, dir, withStore(exampleConfig))
	_, auth := old.call(t, "POST", "/v1/connectors/demo/authorization-uri", "k1-0123456789abcdef0123456789abcdef", map[string]any{"redirectUri": "https://app.test/cb"})
	old.stop(t)

	// A new first key seals from now on; the old one still opens what it sealed.
	rotated := strings.Replace(exampleConfig, `session_keys: ["${IDPLUG_SESSION_KEY}"]`,
		`session_keys: ["a-brand-new-session-key-of-more-than-32-bytes", "${IDPLUG_SESSION_KEY}"]`, 1)
	p := startIdplug(t, dir, withStore(rotated))
	status, body := p.call(t, "POST", "/v1/connectors/demo/user-info", "k1-0123456789abcdef0123456789abcdef",
		map[string]any{"session": jsonPath(auth, "session"), "data": map[string]any{"code": "ada", "state": jsonPath(auth, "state")}})
	mustEqual(t, "status", status, 200)
	mustEqual(t, "id", jsonPath(body, "userInfo", "id"), "ada")

	// Once the old key is dropped, its sessions no longer open.
	p.stop(t)
	dropped := strings.Replace(exampleConfig, `session_keys: ["${IDPLUG_SESSION_KEY}"]`,
		`session_keys: ["a-brand-new-session-key-of-more-than-32-bytes"]`, 1)
	p = startIdplug(t, dir, withStore(dropped))
	status, body = p.call(t, "POST", "/v1/connectors/demo/user-info", "k1-0123456789abcdef0123456789abcdef",
		map[string]any{"session": jsonPath(auth, "session"), "data": map[string]any{"code": "ada", "state": jsonPath(auth, "state")}})
	mustEqual(t, "status", status, 400)
	mustEqual(t, "code", jsonPath(body, "code"), "session_invalid")
}

func TestValidateCommand(t *testing.T) {
	dir := pluginFolder(t, "example")
	bin := plugintest.Binary(t, "./host/cmd/idplug")
	var path string
	run := func(config string) (int, string) {
		path = filepath.Join(t.TempDir(), "idplug.yaml")
		if err := os.WriteFile(path, []byte(strings.ReplaceAll(config, "PLUGIN_DIR", dir)), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "validate", "--config", path)
		cmd.Env = append(os.Environ(), "IDPLUG_SESSION_KEY="+testSessionKey)
		out, _ := cmd.CombinedOutput()
		return cmd.ProcessState.ExitCode(), string(out)
	}
	code, out := run(exampleConfig)
	if code != 0 || !strings.Contains(out, "ok (2 connectors, 1 plugins)") {
		t.Fatalf("valid config: exit %d:\n%s", code, out)
	}
	bad := strings.Replace(exampleConfig, "clientId: demo-client", "clientId: \"\"", 1)
	bad = strings.Replace(bad, "authorizationEndpoint: https://other.example.test/authorize", "authorizationEndpoint: nowhere", 1)
	bad = strings.Replace(bad, "plugin: example\n    config:\n      authorizationEndpoint: nowhere", "plugin: examples\n    config:\n      authorizationEndpoint: nowhere", 1)
	code, out = run(bad)
	if code == 0 {
		t.Fatalf("invalid config passed:\n%s", out)
	}
	// The plugins' problems point into the file, like the file's own problems.
	for _, want := range []string{path + `:14: connector demo: config.clientId: is required`, path + `:16: connector other: plugin: no plugin with id "examples" runs`} {
		if !strings.Contains(out, want) {
			t.Errorf("validate output lacks %q:\n%s", want, out)
		}
	}
	code, out = run(exampleConfig + "\nunknown_setting: 1\n")
	if code == 0 || !strings.Contains(out, "unknown_setting") {
		t.Fatalf("unknown key: exit %d:\n%s", code, out)
	}
	// Settings that do nothing are pointed out, and the file still passes.
	code, out = run(exampleConfig + "\nstore: {url: \"off\"}\nvault_keys: [\"" + strings.Repeat("v", 32) + "\"]\n")
	if want := "warning: vault_keys are set, but the store is off (store.url: off): no token is kept"; code != 0 || !strings.Contains(out, want) {
		t.Fatalf("vault_keys without a store: exit %d, want 0 and %q:\n%s", code, want, out)
	}
	// What serve would refuse about the store, found without opening it.
	missing := filepath.Join(t.TempDir(), "gone", "idplug.db")
	code, out = run(exampleConfig + "\nstore: {url: \"sqlite:" + missing + "\"}\n")
	if want := "store.url: store: sqlite: the folder of " + missing + " does not exist: make it"; code == 0 || !strings.Contains(out, want) {
		t.Fatalf("a store in a missing folder: exit %d, want %q:\n%s", code, want, out)
	}
	// A misspelt sandbox key narrows nothing: the plugin it meant would keep
	// every host its metadata declares.
	code, out = run(exampleConfig + "\nsandbox:\n  egress_allow: {exampel: [api.example.com]}\n  read: {exam*: [/etc/hostname]}\n")
	if want := "sandbox.egress_allow.exampel: names no plugin of the folder (plugins: example)"; code == 0 || !strings.Contains(out, want) || strings.Contains(out, "read.exam*") {
		t.Fatalf("a misspelt sandbox key: exit %d, want %q (and the prefix key matched):\n%s", code, want, out)
	}
	// A file named without --config is not a file checked: it had checked
	// ./idplug.yaml and said ok (migrate migrated that one's store).
	for _, args := range [][]string{{"validate", path}, {"migrate", "--config", path, "extra"}, {"plugins", "--plugin-dir", dir, "extra"}} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		if code := exitCode(err); code != 2 || !strings.Contains(string(out), "unexpected argument") {
			t.Errorf("idplug %s: exit %d, want 2 and the argument named:\n%s", strings.Join(args, " "), code, out)
		}
	}
	if out, err := exec.Command(bin, "plugins", "--plugin-dir", dir, "--log-level", "loud").CombinedOutput(); exitCode(err) != 2 || !strings.Contains(string(out), `--log-level "loud"`) {
		t.Errorf("idplug plugins --log-level loud: exit %d, want 2:\n%s", exitCode(err), out)
	}
}

// TestShutdownFinishesRequestsInFlight sends SIGTERM while a sign-in waits on the
// provider's token endpoint: the sign-in still completes, then idplug exits cleanly.
func TestShutdownFinishesRequestsInFlight(t *testing.T) {
	tokenCalled := make(chan struct{})
	release := make(chan struct{})
	provider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/token":
			close(tokenCalled)
			<-release
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"access_token":"at-1","token_type":"Bearer"}`)
		case "/me":
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"id":"u-1","name":"Slow"}`)
		}
	}))
	defer provider.Close()
	p := startIdplug(t, pluginFolder(t, "oauth2"), jsonConfig(t, []map[string]any{{"id": "slow", "plugin": "oauth2", "config": map[string]any{
		"authorizationEndpoint": provider.URL + "/auth", "tokenEndpoint": provider.URL + "/token", "userInfoEndpoint": provider.URL + "/me",
		"clientId": "c", "clientSecret": "s",
	}}}))
	_, auth := p.call(t, "POST", "/v1/connectors/slow/authorization-uri", "", map[string]any{"redirectUri": "https://app.test/cb"})
	type result struct {
		status int
		body   map[string]any
	}
	done := make(chan result)
	go func() {
		status, body := p.call(t, "POST", "/v1/connectors/slow/user-info", "",
			map[string]any{"session": jsonPath(auth, "session"), "data": map[string]any{"code": "c1", "state": jsonPath(auth, "state")}})
		done <- result{status, body}
	}()
	<-tokenCalled
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	close(release)
	r := <-done
	mustEqual(t, "status", r.status, 200)
	mustEqual(t, "id", jsonPath(r.body, "userInfo", "id"), "u-1")
	<-p.done
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("idplug exited with %v:\n%s", err, p.logs)
	}
	if !strings.Contains(p.logs.String(), "shutting down") {
		t.Fatalf("logs:\n%s", p.logs)
	}
}

// Every replica runs the same plugins, so one that is gone (or keeps crashing)
// makes every replica unready at once: a readiness probe on /readyz took all of
// them out of the Service, the connectors that work and the OpenID Provider
// with them. /readyz?exclude=plugins (the chart's probe) leaves the plugins out
// of ready and still lists them; the store stays in.
func TestReadinessCanLeaveThePluginsOut(t *testing.T) {
	dir := pluginFolder(t, "example", "github")
	config := exampleConfig + "  - id: gh\n    plugin: github\n    config: {clientId: gh-client, clientSecret: gh-secret}\n"
	p := startIdplug(t, dir, config)
	status, _ := p.call(t, "GET", "/readyz?exclude=plugins", "", nil)
	mustEqual(t, "readyz?exclude=plugins with every plugin running", status, 200)

	if err := os.Remove(filepath.Join(dir, "idplug-connector-github")); err != nil {
		t.Fatal(err)
	}
	p.waitLog(t, "plugin file removed")
	status, body := p.call(t, "GET", "/readyz", "", nil)
	mustEqual(t, fmt.Sprintf("readyz with gh's plugin gone (%v)", body), status, 503)
	status, body = p.call(t, "GET", "/readyz?exclude=plugins", "", nil)
	mustEqual(t, fmt.Sprintf("readyz?exclude=plugins with gh's plugin gone (%v)", body), status, 200)
	mustEqual(t, "excluded", jsonPath(body, "excluded", 0), "plugins")
	mustEqual(t, "the plugins still listed", jsonPath(body, "plugins", 0, "id"), "example")
	status, _ = p.call(t, "POST", "/v1/connectors/demo/authorization-uri", "k1-0123456789abcdef0123456789abcdef", map[string]any{"redirectUri": "https://app.test/cb"})
	mustEqual(t, "a working connector beside the gone one", status, 200)

	status, body = p.call(t, "GET", "/readyz?exclude=plugins,disks", "", nil)
	mustEqual(t, "an unknown check", status, 400)
	if msg, _ := jsonPath(body, "message").(string); !strings.Contains(msg, `"disks"`) {
		t.Errorf("message = %q; want it to name the unknown check", msg)
	}
}
