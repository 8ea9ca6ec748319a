package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/idplug/idplug/internal/oidctest"
	"github.com/idplug/idplug/internal/otlptest"
	"github.com/idplug/idplug/internal/plugintest"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// TestTracesFollowASignIn signs in through the real binary and the real oauth2
// plugin against the real OpenID provider, with a real OTLP endpoint, over each
// protocol, turned on by the standard variables or by the tracing section. Each
// request is one trace whose spans chain by parent id from idplug's HTTP span to
// its gRPC client span, the plugin's server span and the plugin's calls to the
// provider; a caller's traceparent makes both requests of a sign-in one trace.
func TestTracesFollowASignIn(t *testing.T) {
	secret := oidctest.NewClientSecret(t)
	provider := oidctest.Start(t, oidctest.Config{Clients: []oidctest.Client{
		{ID: "traced", AuthMethod: "client_secret_basic", Secret: secret, RedirectURIs: []string{appRedirect}},
	}})
	connector := map[string]any{"id": "acme", "plugin": "oauth2", "config": map[string]any{
		"authorizationEndpoint": provider.AuthorizationEndpoint(), "tokenEndpoint": provider.TokenEndpoint(),
		"userInfoEndpoint": provider.UserinfoEndpoint(), "issuer": provider.Issuer,
		"clientId": "traced", "clientSecret": secret, "tokenEndpointAuthMethod": "client_secret_basic",
		"scope": "openid profile email", "profileMap": map[string]string{"id": "sub"},
	}}
	plugins := pluginFolder(t, "oauth2")

	for _, tc := range []struct {
		name, protocol string
		bySection      bool
	}{
		{"grpc by variables", "grpc", false},
		{"http/protobuf by the tracing section", "http/protobuf", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rcv := otlptest.Start(t)
			endpoint := rcv.HTTPEndpoint
			if tc.protocol == "grpc" {
				endpoint = rcv.GRPCEndpoint
			}
			cfg := map[string]any{}
			if err := json.Unmarshal([]byte(jsonConfig(t, []map[string]any{connector})), &cfg); err != nil {
				t.Fatal(err)
			}
			var env []string
			if tc.bySection {
				cfg["tracing"] = map[string]any{"exporter": "otlp", "endpoint": endpoint, "protocol": tc.protocol,
					"service_name": "idplug-traced", "sampler": "parentbased_traceidratio", "sampler_arg": "1"}
			} else {
				env = []string{"OTEL_TRACES_EXPORTER=otlp", "OTEL_EXPORTER_OTLP_ENDPOINT=" + endpoint,
					"OTEL_EXPORTER_OTLP_PROTOCOL=" + tc.protocol, "OTEL_SERVICE_NAME=idplug-traced",
					"OTEL_TRACES_SAMPLER=parentbased_always_on"}
			}
			p := startTracedIdplug(t, plugins, cfg, env)

			// A caller with a trace of its own: both requests of the sign-in join it.
			const callerTrace, callerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
			traceparent := "00-" + callerTrace + "-" + callerSpan + "-01"
			secrets := signIn(t, p, provider, traceparent)
			spans := rcv.WaitFor(t, 30*time.Second, func(s []otlptest.Span) bool {
				// The oauth2 plugin declares an authorization template, so the host
				// builds the URL itself: that request is the HTTP span alone.
				return len(chainOf(s, callerTrace, "POST /v1/connectors/{id}/user-info", true)) == 4 &&
					len(chainOf(s, callerTrace, "POST /v1/connectors/{id}/authorization-uri", false)) == 1
			})
			for _, s := range spans {
				if s.TraceID != callerTrace {
					continue
				}
				if s.Via != viaOf(tc.protocol) {
					t.Errorf("span %q came over %s, not %s", s.Name, s.Via, tc.protocol)
				}
				for k, v := range s.Attributes {
					for _, secret := range secrets {
						if strings.Contains(v, secret) {
							t.Errorf("span %q attribute %s holds a code, session or token", s.Name, k)
						}
					}
				}
			}
			chain := chainOf(spans, callerTrace, "POST /v1/connectors/{id}/user-info", true)
			if chain[0].ParentID != callerSpan {
				t.Errorf("the HTTP span's parent is %q, not the caller's span %q", chain[0].ParentID, callerSpan)
			}
			if got := chain[0].Attributes["http.route"]; got != "/v1/connectors/{id}/user-info" {
				t.Errorf("http.route = %q", got)
			}
			if got := chain[0].Attributes["http.response.status_code"]; !strings.Contains(got, "200") {
				t.Errorf("http.response.status_code = %q", got)
			}
			// The access log names the trace of each request.
			p.waitLog(t, `"trace_id":"`+callerTrace+`"`)

			// Without a caller's trace, a sign-in's callback is a trace of its own.
			before := map[string]bool{}
			for _, s := range spans {
				before[s.TraceID] = true
			}
			signIn(t, p, provider, "")
			var fresh string
			rcv.WaitFor(t, 30*time.Second, func(s []otlptest.Span) bool {
				for _, sp := range s {
					if !before[sp.TraceID] && sp.Name == "POST /v1/connectors/{id}/user-info" {
						fresh = sp.TraceID
					}
				}
				return fresh != "" && len(chainOf(s, fresh, "POST /v1/connectors/{id}/user-info", true)) == 4
			})
			if root := chainOf(rcv.Spans(), fresh, "POST /v1/connectors/{id}/user-info", true)[0]; root.ParentID != "" {
				t.Errorf("the callback's HTTP span has parent %q; it should start its trace", root.ParentID)
			}
		})
	}
}

func viaOf(protocol string) string {
	if protocol == "grpc" {
		return "grpc"
	}
	return "http"
}

// chainOf finds, in trace, the chain that starts at the HTTP server span named
// route: that span, idplug's gRPC client span under it, the plugin's server span
// under that and (withProvider) the plugin's provider calls under that, the token
// call first. It returns what it found of the chain so far.
func chainOf(spans []otlptest.Span, trace, route string, withProvider bool) []otlptest.Span {
	var chain []otlptest.Span
	find := func(pred func(otlptest.Span) bool) (otlptest.Span, bool) {
		for _, s := range spans {
			if s.TraceID == trace && pred(s) {
				return s, true
			}
		}
		return otlptest.Span{}, false
	}
	httpSpan, ok := find(func(s otlptest.Span) bool {
		return s.Name == route && s.Kind == tracepb.Span_SPAN_KIND_SERVER && s.Service == serviceOf(s)
	})
	if !ok {
		return chain
	}
	chain = append(chain, httpSpan)
	client, ok := find(func(s otlptest.Span) bool {
		return s.ParentID == httpSpan.SpanID && s.Kind == tracepb.Span_SPAN_KIND_CLIENT &&
			strings.HasPrefix(s.Name, "idplug.connector.v1.ConnectorService/")
	})
	if !ok {
		return chain
	}
	chain = append(chain, client)
	server, ok := find(func(s otlptest.Span) bool {
		return s.ParentID == client.SpanID && s.Kind == tracepb.Span_SPAN_KIND_SERVER &&
			s.Name == client.Name && s.Service == "idplug-connector-oauth2"
	})
	if !ok {
		return chain
	}
	chain = append(chain, server)
	if !withProvider {
		return chain
	}
	// The code exchange and the userinfo call, each a client span of the plugin.
	calls := 0
	for _, s := range spans {
		if s.TraceID == trace && s.ParentID == server.SpanID && s.Kind == tracepb.Span_SPAN_KIND_CLIENT &&
			s.Service == "idplug-connector-oauth2" && (s.Name == "POST" || s.Name == "GET") {
			calls++
		}
	}
	if calls == 2 {
		chain = append(chain, otlptest.Span{Name: "provider calls"})
	}
	return chain
}

// serviceOf accepts idplug's own spans (its service name is the test's).
func serviceOf(s otlptest.Span) string {
	if s.Service == "idplug-traced" {
		return s.Service
	}
	return "idplug-traced"
}

// startTracedIdplug runs the real binary on cfg with env added to its environment.
func startTracedIdplug(t *testing.T, pluginDir string, cfg map[string]any, env []string) *idplugProc {
	t.Helper()
	cfg["plugin_dir"] = pluginDir
	// /v1 is closed without a key: this one may sign in, nothing more.
	cfg["api_keys"] = []any{map[string]any{"key": harnessAPIKey, "scopes": []string{"signin"}}}
	data, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(t.TempDir(), "idplug.yaml")
	if err := os.WriteFile(cfgPath, data, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(plugintest.Binary(t, "./host/cmd/idplug"), "serve", "--config", cfgPath)
	// The host's batches go out every 100 ms, not the SDK's 5 s: the test
	// waits for them.
	cmd.Env = append(append(os.Environ(), "IDPLUG_SESSION_KEY="+testSessionKey, "OTEL_BSP_SCHEDULE_DELAY=100"), env...)
	return runIdplug(t, cmd, cfgPath)
}

// signIn runs one sign-in through /v1, sending traceparent (when set) with both
// requests. It returns the code, session and tokens, which no span may hold.
func signIn(t *testing.T, p *idplugProc, provider *oidctest.Provider, traceparent string) []string {
	t.Helper()
	post := func(path string, body any) map[string]any {
		data, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", p.URL+path, strings.NewReader(string(data)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+harnessAPIKey)
		if traceparent != "" {
			req.Header.Set("traceparent", traceparent)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %d %v %v", path, resp.StatusCode, out, err)
		}
		return out
	}
	auth := post("/v1/connectors/acme/authorization-uri", map[string]any{"redirectUri": appRedirect})
	callback, err := provider.Authorize(context.Background(), jsonPath(auth, "redirectTo").(string), appRedirect)
	if err != nil {
		t.Fatal(err)
	}
	data := map[string]string{}
	for k, v := range callback.Query() {
		data[k] = v[0]
	}
	body := post("/v1/connectors/acme/user-info", map[string]any{"session": jsonPath(auth, "session"), "data": data})
	mustEqual(t, "id", jsonPath(body, "userInfo", "id"), "alice")
	secrets := []string{data["code"], fmt.Sprint(jsonPath(auth, "session"))}
	for _, k := range []string{"accessToken", "refreshToken", "idToken"} {
		if s, _ := jsonPath(body, "tokens", k).(string); len(s) >= 8 {
			secrets = append(secrets, s)
		}
	}
	return secrets
}

// An endpoint with no exporter named leaves tracing off, as OpenTelemetry's
// defaults say; the operator who wrote one meant it on, and is told.
func TestAnEndpointWithoutAnExporterIsPointedOut(t *testing.T) {
	t.Setenv("OTEL_TRACES_EXPORTER", "")
	p := startIdplug(t, pluginFolder(t, "example"), exampleConfig+"tracing: {endpoint: \"http://127.0.0.1:1\"}\n")
	if !p.logs.comes("tracing is off: an OTLP endpoint is set but no exporter; set tracing.exporter: otlp", 10*time.Second) {
		t.Fatalf("no word of it:\n%s", p.logs)
	}
}
