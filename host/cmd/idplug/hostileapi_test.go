package main

import (
	"encoding/json"
	"net/url"
	"strings"
	"syscall"
	"testing"

	"github.com/idplug/idplug/internal/plugintest"
)

// TestPluginCannotUseTheAPI: a plugin calls idplug's own listener, as any
// process on the machine can, on a loopback host configured without api_keys
// (the setting that used to leave /v1 open): every call is refused, whatever it
// asks for (another connector's vault record, the connector list, a reload) and
// with or without a guessed key. The answers reach the test through the plugin's
// authorization URL, started from the browser route since /v1 is closed.
func TestPluginCannotUseTheAPI(t *testing.T) {
	dir := pluginFolder(t, "example")
	plugintest.Install(t, dir, plugintest.Binary(t, "./host/cmd/idplug/testdata/apicaller"), "apicaller")
	requests := []map[string]string{
		{"method": "GET", "path": "/v1/connectors/demo/users/alice/tokens"},
		{"method": "DELETE", "path": "/v1/connectors/demo/users/alice/tokens"},
		{"method": "GET", "path": "/v1/connectors"},
		{"method": "POST", "path": "/v1/admin/reload"},
		{"method": "POST", "path": "/v1/connectors/demo/authorization-uri"},
		{"method": "GET", "path": "/v1/connectors", "key": strings.Repeat("guess", 8)},
	}
	reqJSON, _ := json.Marshal(requests)
	// idplug listens on a port of the kernel's choosing (one handed to it could
	// be taken before it binds it); the caller, which has to name that port,
	// comes with a reload (SIGHUP: /v1 is closed).
	cfg := `
listen: 127.0.0.1:0
public_url: http://127.0.0.1:1
plugin_dir: PLUGIN_DIR
session_keys: ["${IDPLUG_SESSION_KEY}"]
api_keys: []
log_format: json
connectors:
  - id: demo
    plugin: example
    config: {authorizationEndpoint: "https://id.example.test/authorize", clientId: demo}
`
	p := startIdplug(t, dir, cfg)
	p.rewrite(t, dir, cfg+`  - id: caller
    plugin: apicaller
    config: {api: "`+p.URL+`", requests: `+string(reqJSON)+`}
`)
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	p.waitLog(t, "configuration reloaded")
	for i, r := range callerResults(t, p, len(requests)) {
		// 401, or no connection at all where the sandbox keeps plugins off idplug's ports.
		if r != "401" && !strings.HasPrefix(r, "error: ") {
			t.Errorf("a plugin's %s %s: %s", requests[i]["method"], requests[i]["path"], r)
		}
	}
}

// TestPluginCannotReachAListenerOnPortZero: with listen (and admin_listen) on
// port 0, the kernel picks the ports; the sandbox and the egress proxy keep
// plugins off those, even when a connector's configuration names the address
// (the proxy would let a named address through).
func TestPluginCannotReachAListenerOnPortZero(t *testing.T) {
	dir := pluginFolder(t, "example")
	plugintest.Install(t, dir, plugintest.Binary(t, "./host/cmd/idplug/testdata/apicaller"), "apicaller")
	base := `
listen: 127.0.0.1:0
public_url: http://127.0.0.1:1
admin_listen: 127.0.0.1:0
plugin_dir: PLUGIN_DIR
session_keys: ["${IDPLUG_SESSION_KEY}"]
api_keys: ["` + strings.Repeat("k", 40) + `"]
log_format: json
connectors:
  - id: demo
    plugin: example
    config: {authorizationEndpoint: "https://id.example.test/authorize", clientId: demo}
`
	p := startIdplug(t, dir, base)
	admin := adminAddress(t, p)
	requests, _ := json.Marshal([]map[string]string{{"method": "GET", "path": "/v1/connectors"}, {"method": "GET", "path": "/healthz"}})
	for _, target := range []string{strings.TrimPrefix(p.URL, "http://"), admin} {
		p.rewrite(t, dir, base+`  - id: caller
    plugin: apicaller
    config: {api: "http://`+target+`", requests: `+string(requests)+`}
`)
		status, body := p.call(t, "POST", "/v1/admin/reload", strings.Repeat("k", 40), nil)
		if status != 200 {
			t.Fatalf("reload: %d %v", status, body)
		}
		for _, r := range callerResults(t, p, 2) {
			if !strings.HasPrefix(r, "error: ") {
				t.Errorf("the plugin reached idplug's listener at %s: %s", target, r)
			}
		}
	}
}

// callerResults starts a sign-in at the apicaller connector "caller", which
// makes its requests then, and returns what each got: a status, or "error: ...".
func callerResults(t *testing.T, p *idplugProc, n int) []string {
	t.Helper()
	resp, _ := get(t, p.URL+"/sign-in/caller")
	mustEqual(t, "sign-in status", resp.StatusCode, 302)
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	var results []string
	if err := json.Unmarshal([]byte(loc.Query().Get("r")), &results); err != nil || len(results) != n {
		t.Fatalf("the plugin's results: %q (%v)", loc.Query().Get("r"), err)
	}
	return results
}
