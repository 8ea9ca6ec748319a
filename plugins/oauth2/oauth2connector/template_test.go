package oauth2connector

import (
	"encoding/json"
	"io"
	"net/url"
	"testing"

	"github.com/idplug/idplug/sdk"
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

// TestAURLTheTemplateCannotExpressIsThePlugins: a fixed nonce in customConfig
// (a template may not pin one: it would be every flow's) leaves the template
// undeclared, and the plugin builds the URL, nonce and all, as before; the
// connector is not refused.
func TestAURLTheTemplateCannotExpressIsThePlugins(t *testing.T) {
	p := newStubProvider(t)
	in := mustParse(t, p.config(map[string]any{"customConfig": map[string]any{"nonce": "fixed-by-the-operator"}}))
	if tmpl := (connector{}).AuthorizationTemplate(in); tmpl != nil {
		t.Fatalf("declared a template that pins a nonce: %+v", tmpl)
	}
	auth, err := connector{}.AuthorizationURI(t.Context(), in, sdk.AuthorizationRequest{RedirectURI: "https://rp.test/cb", State: "st"})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(auth.RedirectTo)
	if u.Query().Get("nonce") != "fixed-by-the-operator" || u.Query().Get("state") != "st" {
		t.Errorf("the plugin's URL %s", auth.RedirectTo)
	}
	if tmpl := (connector{}).AuthorizationTemplate(mustParse(t, p.config(nil))); tmpl == nil {
		t.Error("no template for a plain configuration")
	}
}
