package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/host/tracing"
	"github.com/idplug/idplug/internal/oidctest"
	"github.com/idplug/idplug/internal/otlptest"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// TestTracesReachIntoNode signs in through Logto's OAuth 2.0 connector, run by
// Node in the sandbox, against the real OpenID provider, with tracing on: the
// callback's trace chains from the caller's span through idplug's gRPC client
// span and the plugin's server span to a span for each request Node's fetch made
// to the provider, and no span carries the code or a query string.
func TestTracesReachIntoNode(t *testing.T) {
	needBuild(t)
	secret := oidctest.NewClientSecret(t)
	const redirect = "http://127.0.0.1:1/callback/acme"
	op := oidctest.Start(t, oidctest.Config{Clients: []oidctest.Client{
		{ID: "basic", Secret: secret, AuthMethod: "client_secret_basic", RedirectURIs: []string{redirect}},
	}})
	rcv := otlptest.Start(t)
	s, fromEnv, err := tracing.Resolve(tracing.Settings{Exporter: "otlp", Endpoint: rcv.HTTPEndpoint, ServiceName: "idplug-logto-test"},
		func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	tr, err := tracing.Start(context.Background(), s, fromEnv, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
	dir := folder(t, nil, "oauth")
	h, err := host.Open(context.Background(), host.Options{PluginDir: dir, Sandbox: testSandbox(dir), Tracing: tr,
		Logger: hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, Output: testWriter{t}})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })

	ctx := context.Background()
	err = h.Configure(ctx, []host.InstanceConfig{{ID: "acme", Plugin: "logto-oauth2", Config: mustJSON(t, map[string]any{
		"authorizationEndpoint": op.AuthorizationEndpoint(), "tokenEndpoint": op.TokenEndpoint(),
		"userInfoEndpoint": op.UserinfoEndpoint(), "clientId": "basic", "clientSecret": secret,
		"tokenEndpointAuthMethod": "client_secret_basic", "tokenEndpointResponseType": "json",
		"scope": "openid profile email", "profileMap": map[string]any{"id": "sub"},
	})}})
	if err != nil {
		t.Fatal(err)
	}
	auth, err := h.AuthorizationURI(ctx, "acme", redirect, "st-traced")
	if err != nil {
		t.Fatal(err)
	}
	back, err := op.Authorize(ctx, auth.RedirectTo, redirect)
	if err != nil {
		t.Fatal(err)
	}
	reqCtx, root := tr.TracerProvider().Tracer("test").Start(ctx, "callback")
	if _, err := h.UserInfo(reqCtx, "acme", auth.Session, queryMap(back)); err != nil {
		t.Fatal(err)
	}
	root.End()
	traceID := root.SpanContext().TraceID().String()
	rootID := root.SpanContext().SpanID().String()
	const plugin = "idplug-connector-logto-oauth" // the file name's

	var provider []otlptest.Span
	spans := rcv.WaitFor(t, 30*time.Second, func(spans []otlptest.Span) bool {
		byID := map[string]otlptest.Span{}
		for _, s := range spans {
			byID[s.SpanID] = s
		}
		provider = provider[:0]
		for _, s := range spans {
			if s.TraceID != traceID || s.Service != plugin || s.Kind != tracepb.Span_SPAN_KIND_CLIENT {
				continue
			}
			server, ok := byID[s.ParentID]
			if !ok || server.Kind != tracepb.Span_SPAN_KIND_SERVER || server.Name != "idplug.connector.v1.ConnectorService/GetUserInfo" {
				continue
			}
			client, ok := byID[server.ParentID]
			if ok && client.Kind == tracepb.Span_SPAN_KIND_CLIENT && client.Service == "idplug-logto-test" && client.ParentID == rootID {
				provider = append(provider, s)
			}
		}
		return len(provider) >= 2
	})
	var sawToken, sawUserinfo bool
	for _, s := range provider {
		u := s.Attributes["url.full"]
		sawToken = sawToken || (s.Name == "POST" && u == op.TokenEndpoint())
		sawUserinfo = sawUserinfo || (s.Name == "GET" && u == op.UserinfoEndpoint())
		if !strings.Contains(s.Attributes["http.response.status_code"], "200") {
			t.Errorf("provider span %s %s has status %q", s.Name, u, s.Attributes["http.response.status_code"])
		}
		if s.Start.After(s.End) {
			t.Errorf("provider span %s ends before it starts", s.Name)
		}
	}
	if !sawToken || !sawUserinfo {
		t.Errorf("no token and userinfo spans among %s", otlptest.Describe(provider))
	}
	code := queryMap(back)["code"]
	for _, s := range spans {
		for k, v := range s.Attributes {
			if strings.Contains(v, code) || strings.Contains(v, secret) || strings.Contains(v, "?") {
				t.Errorf("span %q attribute %s = %q holds a code, secret or query", s.Name, k, v)
			}
		}
	}
}
