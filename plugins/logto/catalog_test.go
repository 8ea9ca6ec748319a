package main

import (
	"strings"
	"testing"

	"github.com/idplug/idplug/sdk"
)

// TestCatalog checks the metadata the default bundle's plugins serve without Node:
// ids, logos as data URLs, readmes, secrets masked, storeTokens where the connector
// can hand tokens back.
func TestCatalog(t *testing.T) {
	needBuild(t)
	b, err := openBundle(built.bundle)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		id     string
		tokens bool
		secret string // a form item that must be confidential
	}{
		"oauth":      {"oauth2", true, "clientSecret"},
		"github":     {"github-universal", true, "clientSecret"},
		"google":     {"google-universal", true, "clientSecret"},
		"apple":      {"apple-universal", false, ""},
		"discord":    {"discord-universal", false, "clientSecret"},
		"facebook":   {"facebook-universal", true, "clientSecret"},
		"azuread":    {"azuread-universal", false, "clientSecret"},
		"wechat-web": {"wechat-web", false, "appSecret"},
	}
	for name, w := range want {
		e, ok := b.catalog.Connectors[name]
		if !ok {
			t.Errorf("the bundle has no %s", name)
			continue
		}
		m := e.Metadata
		if m.ID != w.id || m.Name["en"] == "" || m.Description["en"] == "" || m.Readme == "" || !strings.HasPrefix(m.Logo, "data:image/") {
			t.Errorf("%s: metadata id %q, name %q, readme %d bytes, logo %.30q", name, m.ID, m.Name["en"], len(m.Readme), m.Logo)
		}
		items := map[string]sdk.FormItem{}
		for _, f := range m.FormItems {
			items[f.Key] = f
		}
		if _, has := items["storeTokens"]; has != w.tokens || e.Tokens != w.tokens {
			t.Errorf("%s: storeTokens item %v, catalog tokens %v; want %v", name, has, e.Tokens, w.tokens)
		}
		if w.secret != "" && !items[w.secret].Confidential {
			t.Errorf("%s: %s is not confidential", name, w.secret)
		}
		for _, f := range m.FormItems {
			if f.Confidential && strings.HasSuffix(f.Key, "Algorithm") {
				t.Errorf("%s: %s is marked confidential", name, f.Key)
			}
		}
	}
	for name, e := range b.catalog.Connectors {
		if strings.Contains(e.Package, "kit") || !strings.HasPrefix(e.Package, "@logto/connector-") {
			t.Errorf("%s: package %s is not a social connector", name, e.Package)
		}
	}
}
