package main

import (
	"encoding/json"
	"testing"

	"github.com/idplug/idplug/host/config"
	"github.com/idplug/idplug/host/mapping"
)

// A reload that changes a connector's mapping, plugin or target and leaves its
// config block alone says so in its log line: an empty config_changed had read
// as a reload that found nothing new (a Secret the kubelet had not updated
// yet), while the mapping change signed the connector's browsers out.
func TestReloadChangesNameEverySettingOfAConnector(t *testing.T) {
	allow := func(expr string) *mapping.Mapping {
		m, err := mapping.Compile(mapping.Spec{Allow: expr})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	base := config.Instance{ID: "acme", Plugin: "oauth2", Config: json.RawMessage(`{"clientId":"a"}`), Mapping: allow("true")}
	for _, tc := range []struct {
		what   string
		change func(*config.Instance)
		want   bool
	}{
		{"nothing", func(*config.Instance) {}, false},
		{"the same mapping compiled again", func(c *config.Instance) { c.Mapping = allow("true") }, false},
		{"config", func(c *config.Instance) { c.Config = json.RawMessage(`{"clientId":"b"}`) }, true},
		{"mapping", func(c *config.Instance) { c.Mapping = allow("false") }, true},
		{"mapping removed", func(c *config.Instance) { c.Mapping = nil }, true},
		{"plugin", func(c *config.Instance) { c.Plugin = "oidc" }, true},
		{"target", func(c *config.Instance) { c.Target = "other" }, true},
		{"storeTokens", func(c *config.Instance) { c.StoreTokens = true }, true},
		{"name", func(c *config.Instance) { c.Name = map[string]string{"en": "Acme"} }, true},
	} {
		next := base
		tc.change(&next)
		fields := reloadChanges(&config.Config{Instances: []config.Instance{base}}, &config.Config{Instances: []config.Instance{next}})
		var changed []string
		for i := 0; i+1 < len(fields); i += 2 {
			if fields[i] == "config_changed" {
				changed = fields[i+1].([]string)
			}
		}
		if got := len(changed) == 1; got != tc.want {
			t.Errorf("%s: config_changed = %v; want the connector listed: %v", tc.what, changed, tc.want)
		}
	}
}
