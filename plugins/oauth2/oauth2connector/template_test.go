package oauth2connector

import (
	"encoding/json"
	"io"
	"testing"

	"github.com/idplug/idplug/sdk/connectortest"
)

// TestHostBuildsWhatThePluginBuilds: for every configuration of this package's
// tests, and every kind of request, the URL and session the host builds from the
// declared template are the plugin's own, byte for byte.
func TestHostBuildsWhatThePluginBuilds(t *testing.T) {
	p := newStubProvider(t)
	connectortest.CheckAuthorizationTemplate(t, connector{}, connectortest.TemplateOptions{
		Configs: map[string]any{
			"logto":           json.RawMessage(logtoConfig),
			"stub":            p.config(nil),
			"no pkce":         p.config(map[string]any{"pkce": "none"}),
			"issuer":          p.config(map[string]any{"issuer": p.URL()}),
			"custom":          p.config(map[string]any{"customConfig": map[string]any{"prompt": "consent", "audience": "https://api.test", "Mixed_Case": "x y"}}),
			"endpoint query":  p.config(map[string]any{"authorizationEndpoint": p.URL() + "/authorize?tenant=t1&scope=fixed&state=x"}),
			"no scope":        p.config(map[string]any{"scope": nil}),
			"every auth":      p.config(map[string]any{"tokenEndpointAuthMethod": "client_secret_basic", "storeTokens": true}),
			"public client":   p.config(map[string]any{"tokenEndpointAuthMethod": "none", "clientSecret": nil}),
			"unicode + space": p.config(map[string]any{"clientId": "clïent 1/+", "scope": "a  b+c"}),
		},
		SetRandom: func(r io.Reader) { random = r },
	})
}
