package host_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/host/sandbox"
	"github.com/idplug/idplug/internal/plugintest"
)

// A plugin an egress_allow key names reaches, beyond its configurations'
// hosts, only what the operator listed: not the other hosts of their sites,
// which a list of tenant platforms may have missed (another customer's
// tenant). A plugin no key names keeps the same-site rule.
func TestEgressAllowTurnsTheSameSiteRuleOff(t *testing.T) {
	dir := plugintest.Folder(t)
	plugintest.Install(t, dir, plugintest.Binary(t, examplePkg), "example")
	cfg, _ := json.Marshal(map[string]string{"authorizationEndpoint": "https://acme.tenants.example.com/authorize", "clientId": "c"})
	for _, narrowed := range []bool{false, true} {
		policy := sandbox.Policy{Mode: sandbox.ModeOff}
		if narrowed {
			policy.EgressAllow = map[string][]string{"example": {}}
		}
		h := open(t, dir, host.Options{Sandbox: policy})
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := h.Configure(ctx, []host.InstanceConfig{{ID: "a", Plugin: "example", Config: cfg}}); err != nil {
			t.Fatal(err)
		}
		cancel()
		r := host.EgressRules(h, "example")
		_, err := r.Match("attacker.tenants.example.com:443")
		if r.SameSiteOff != narrowed || (err == nil) == narrowed {
			t.Errorf("egress_allow naming the plugin: %v; same-site rule off = %v, another host of the site: %v", narrowed, r.SameSiteOff, err)
		}
		if _, err := r.Match("acme.tenants.example.com:443"); err != nil {
			t.Errorf("the configuration's own host, egress_allow %v: %v", narrowed, err)
		}
		_ = h.Close()
	}
}
