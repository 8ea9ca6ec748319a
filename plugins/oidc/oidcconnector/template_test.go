package oidcconnector

import (
	"bytes"
	"context"
	"reflect"
	"testing"

	connectorv1 "github.com/idplug/idplug/proto/gen/idplug/connector/v1"
	"github.com/idplug/idplug/sdk"
	"google.golang.org/protobuf/proto"
)

// seeded is the same randomness every time it is made, so that the plugin's
// build and the host's draw the same nonce and verifier.
func seeded() *bytes.Reader {
	b := make([]byte, 512)
	for i := range b {
		b[i] = byte(i*29 + 3)
	}
	return bytes.NewReader(b)
}

// overTheWire is the template as the host holds it: encoded by the SDK, sent as
// bytes, decoded by the host.
func overTheWire(t *testing.T, tmpl *sdk.AuthorizationTemplate) *sdk.AuthorizationTemplate {
	t.Helper()
	b, err := proto.Marshal(&connectorv1.ValidateConfigResponse{AuthorizationTemplate: sdk.Wire.AuthorizationTemplateToProto(tmpl)})
	if err != nil {
		t.Fatal(err)
	}
	var resp connectorv1.ValidateConfigResponse
	if err := proto.Unmarshal(b, &resp); err != nil {
		t.Fatal(err)
	}
	got := sdk.Wire.AuthorizationTemplateFromProto(resp.GetAuthorizationTemplate())
	if err := got.Check(); err != nil {
		t.Fatalf("the host would refuse the template: %v", err)
	}
	return got
}

// TestHostBuildsWhatThePluginBuilds: for every configuration with a configured
// authorization endpoint (presets included), and every kind of request, the URL
// and session the host builds from the declared template are the plugin's own.
// A configuration that finds its endpoint by discovery declares none.
func TestHostBuildsWhatThePluginBuilds(t *testing.T) {
	s := newStubOP(t)
	static := func(extra map[string]any) map[string]any {
		cfg := map[string]any{
			"authorizationEndpoint": s.URL() + "/authorize", "tokenEndpoint": s.URL() + "/token",
			"idTokenVerificationConfig": map[string]any{"jwksUri": s.URL() + "/jwks", "issuer": s.URL()},
			"clientId":                  stubClientID, "clientSecret": stubSecret, "scope": "profile email",
		}
		for k, v := range extra {
			cfg[k] = v
		}
		return cfg
	}
	configs := map[string]map[string]any{
		"static":           static(nil),
		"no pkce":          static(map[string]any{"pkce": "none"}),
		"form_post":        static(map[string]any{"authRequestOptionalConfig": map[string]any{"responseMode": "form_post", "prompt": "login", "loginHint": "a@b"}}),
		"custom":           static(map[string]any{"customConfig": map[string]any{"audience": "https://api.test", "x y": "ä"}}),
		"endpoint query":   static(map[string]any{"authorizationEndpoint": s.URL() + "/authorize?p=B2C_1&nonce=fixed&scope=x"}),
		"discovery+static": s.config(map[string]any{"authorizationEndpoint": s.URL() + "/authorize2"}),
		"google+static":    s.config(map[string]any{"provider": "google", "authorizationEndpoint": s.URL() + "/g"}),
	}
	requests := []sdk.AuthorizationRequest{
		{InstanceID: "acme", RedirectURI: "https://app.example.com/callback/acme", State: "STATE-1"},
		{InstanceID: "acme", RedirectURI: "https://app.example.com/cb?x=1", State: "s t&=ä", Scope: "email+profile"},
		{InstanceID: "acme", RedirectURI: "http://127.0.0.1:9/cb", State: "z", Scope: "openid only"},
	}
	for name, cfg := range configs {
		in := parse(t, cfg)
		tmpl := connector{}.AuthorizationTemplate(in)
		if tmpl == nil {
			t.Fatalf("%s: no template declared", name)
		}
		host := overTheWire(t, tmpl)
		for _, req := range requests {
			random = seeded()
			plugin, err := connector{}.AuthorizationURI(context.Background(), in, req)
			random = nil
			if err != nil {
				t.Fatalf("%s: plugin: %v", name, err)
			}
			built, err := host.Build(req, seeded())
			if err != nil {
				t.Fatalf("%s: host: %v", name, err)
			}
			if !reflect.DeepEqual(plugin, built) {
				t.Errorf("%s, %+v:\nplugin %+v\n  host %+v", name, req, plugin, built)
			}
		}
	}
	if tmpl := (connector{}).AuthorizationTemplate(parse(t, s.config(nil))); tmpl != nil {
		t.Errorf("a discovered endpoint may change while served; template = %+v, want none", tmpl)
	}
}
