package oidcconnector

import (
	"io"
	"testing"

	"github.com/idplug/idplug/sdk/connectortest"
)

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
	connectortest.CheckAuthorizationTemplate(t, connector{}, connectortest.TemplateOptions{
		Configs: map[string]any{
			"static":           static(nil),
			"no pkce":          static(map[string]any{"pkce": "none"}),
			"form_post":        static(map[string]any{"authRequestOptionalConfig": map[string]any{"responseMode": "form_post", "prompt": "login", "loginHint": "a@b"}}),
			"custom":           static(map[string]any{"customConfig": map[string]any{"audience": "https://api.test", "x y": "ä"}}),
			"endpoint query":   static(map[string]any{"authorizationEndpoint": s.URL() + "/authorize?p=B2C_1&nonce=fixed&scope=x"}),
			"discovery+static": s.config(map[string]any{"authorizationEndpoint": s.URL() + "/authorize2"}),
			"google+static":    s.config(map[string]any{"provider": "google", "authorizationEndpoint": s.URL() + "/g"}),
		},
		SetRandom: func(r io.Reader) { random = r },
	})
	if tmpl := (connector{}).AuthorizationTemplate(parse(t, s.config(nil))); tmpl != nil {
		t.Errorf("a discovered endpoint may change while served; template = %+v, want none", tmpl)
	}
}
