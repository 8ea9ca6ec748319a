package oidcconnector

import (
	"bytes"
	"context"
	"io"
	"maps"
	"testing"
	"time"

	"github.com/idplug/idplug/sdk"
	"github.com/idplug/idplug/sdk/connectortest"
)

// TestHostBuildsWhatThePluginBuilds: for every configuration (presets
// included), and every kind of request, the URL and session the host builds
// from the connector's template are the plugin's own: the template declared at
// configure time for a configured authorization endpoint, the one reported after
// the first URL for a discovered one (which declares none at configure time).
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
	connectortest.CheckAuthorizationTemplate(t, connector{}, connectortest.TemplateOptions{
		Configs: map[string]any{
			"static":           static(nil),
			"no pkce":          static(map[string]any{"pkce": "none"}),
			"form_post":        static(map[string]any{"authRequestOptionalConfig": map[string]any{"responseMode": "form_post", "prompt": "login", "loginHint": "a@b"}}),
			"custom":           static(map[string]any{"customConfig": map[string]any{"audience": "https://api.test", "x y": "ä"}}),
			"endpoint query":   static(map[string]any{"authorizationEndpoint": s.URL() + "/authorize?p=B2C_1&nonce=fixed&scope=x"}),
			"discovery+static": s.config(map[string]any{"authorizationEndpoint": s.URL() + "/authorize2"}),
			"google+static":    s.config(map[string]any{"provider": "google", "authorizationEndpoint": s.URL() + "/g"}),
			// Discovered: the template the connector reports after its first URL.
			"discovery":           s.config(nil),
			"discovery+form_post": s.config(map[string]any{"authRequestOptionalConfig": map[string]any{"responseMode": "form_post"}}),
			"google":              s.config(map[string]any{"provider": "google"}),
		},
		SetRandom: func(r io.Reader) { random = r },
	})
	if tmpl := (connector{}).AuthorizationTemplate(parse(t, s.config(nil))); tmpl != nil {
		t.Errorf("a discovered endpoint may change while served; template = %+v, want none", tmpl)
	}
}

// TestDiscoveredTemplateIsReportedWhileFresh: with its endpoint found by
// discovery, the connector reports no template until it has discovered it, then
// one that builds exactly the URL and session it builds itself, for as long as
// the discovery document stays cached, and none once that has run out.
func TestDiscoveredTemplateIsReportedWhileFresh(t *testing.T) {
	s := newStubOP(t)
	in := parse(t, s.config(nil))
	if tmpl, valid := (connector{}).CurrentAuthorizationTemplate(in); tmpl != nil || valid != 0 {
		t.Fatalf("before discovery: %+v for %s, want nothing", tmpl, valid)
	}
	fixed := bytes.Repeat([]byte{7}, 256)
	random = bytes.NewReader(fixed)
	t.Cleanup(func() { random = nil })
	req := sdk.AuthorizationRequest{InstanceID: "i", RedirectURI: stubRedirect, State: "st", Scope: "email"}
	asked, err := (connector{}).AuthorizationURI(context.Background(), in, req)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, valid := (connector{}).CurrentAuthorizationTemplate(in)
	if tmpl == nil || valid <= 0 || valid > defaultMetadataTTL {
		t.Fatalf("after discovery: %+v for %s, want a template for the document's lifetime", tmpl, valid)
	}
	built, err := tmpl.Build(req, bytes.NewReader(fixed))
	if err != nil {
		t.Fatal(err)
	}
	if built.RedirectTo != asked.RedirectTo || !maps.Equal(built.Session, asked.Session) {
		t.Fatalf("the plugin built\n %s %v\nthe template builds\n %s %v", asked.RedirectTo, asked.Session, built.RedirectTo, built.Session)
	}
	in.provider.now = func() time.Time { return time.Now().Add(valid + time.Second) }
	if tmpl, _ := (connector{}).CurrentAuthorizationTemplate(in); tmpl != nil {
		t.Fatal("a template was reported after the discovery document ran out")
	}
	static := parse(t, s.config(map[string]any{"authorizationEndpoint": s.URL() + "/authorize2"}))
	if _, err := (connector{}).AuthorizationURI(context.Background(), static, req); err != nil {
		t.Fatal(err)
	}
	if tmpl, _ := (connector{}).CurrentAuthorizationTemplate(static); tmpl != nil {
		t.Fatal("a configured endpoint's template was reported again: the one given at configure time covers it")
	}
}
