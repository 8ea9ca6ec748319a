package oauth2connector

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
// build and the host's draw the same verifier.
func seeded() *bytes.Reader {
	b := make([]byte, 512)
	for i := range b {
		b[i] = byte(i*31 + 5)
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

// TestHostBuildsWhatThePluginBuilds: for every configuration of this package's
// tests, and every kind of request, the URL and session the host builds from the
// declared template are the plugin's own, byte for byte.
func TestHostBuildsWhatThePluginBuilds(t *testing.T) {
	p := newStubProvider(t)
	configs := map[string]map[string]any{
		"stub":            p.config(nil),
		"no pkce":         p.config(map[string]any{"pkce": "none"}),
		"issuer":          p.config(map[string]any{"issuer": p.URL()}),
		"custom":          p.config(map[string]any{"customConfig": map[string]any{"prompt": "consent", "audience": "https://api.test", "Mixed_Case": "x y"}}),
		"endpoint query":  p.config(map[string]any{"authorizationEndpoint": p.URL() + "/authorize?tenant=t1&scope=fixed&state=x"}),
		"no scope":        p.config(map[string]any{"scope": nil}),
		"every auth":      p.config(map[string]any{"tokenEndpointAuthMethod": "client_secret_basic", "storeTokens": true}),
		"public client":   p.config(map[string]any{"tokenEndpointAuthMethod": "none", "clientSecret": nil}),
		"unicode + space": p.config(map[string]any{"clientId": "clïent 1/+", "scope": "a  b+c"}),
	}
	in, err := parseConfig([]byte(logtoConfig))
	if err != nil {
		t.Fatal(err)
	}
	instances := map[string]*Instance{"logto": in}
	for name, cfg := range configs {
		instances[name] = mustParse(t, cfg)
	}
	requests := []sdk.AuthorizationRequest{
		{InstanceID: "acme", RedirectURI: testRedirectURI, State: "STATE-1"},
		{InstanceID: "acme", RedirectURI: testRedirectURI + "?x=1&y=%20", State: "s t&=ä", Scope: "email+profile openid"},
		{InstanceID: "acme", RedirectURI: "http://127.0.0.1:9/cb", State: "z", Scope: "only"},
	}
	for name, in := range instances {
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
}
