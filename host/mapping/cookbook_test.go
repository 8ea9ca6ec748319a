package mapping

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/idplug/idplug/sdk"
	"go.yaml.in/yaml/v3"
)

// cookbookSpec reads the mapping: block of the cookbook's example name
// (docs/mapping/<name>/mapping.yaml) into a Spec, key for key as host/config
// does (host/hosttest and idplug map run each example's own sample.json
// through the configuration parser itself).
func cookbookSpec(t *testing.T, name string) Spec {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "docs", "mapping", name, "mapping.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Mapping struct {
			Claims        map[string]string `yaml:"claims"`
			Allow         string            `yaml:"allow"`
			AllowReason   string            `yaml:"allow_reason"`
			AllowIDChange bool              `yaml:"allow_id_change"`
			Fields        map[string]string `yaml:",inline"`
		} `yaml:"mapping"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	m := doc.Mapping
	return Spec{Fields: m.Fields, Claims: m.Claims, Allow: m.Allow, AllowReason: m.AllowReason, AllowIDChange: m.AllowIDChange}
}

// Discord sends "global_name": null for a user who set no display name
// (GET /users/@me). raw.?global_name is then optional.of(null), not an empty
// optional: the cookbook's raw.?global_name.orValue(raw.username) gave null,
// and the user lost their name.
func TestDiscordCookbookFallsBackToTheUsername(t *testing.T) {
	m := mustCompile(t, cookbookSpec(t, "discord-avatar"))
	user := `"id": "80351110224678912", "username": "nelly", "discriminator": "0", ` +
		`"avatar": "8342729096ea3675442027381ff50dfe", "banner": null, "accent_color": null, ` +
		`"flags": 0, "public_flags": 0, "mfa_enabled": false, "locale": "en-US", "premium_type": 0`
	for name, c := range map[string]struct{ raw, want string }{
		"without a display name":    {`{` + user + `, "global_name": null}`, "nelly"},
		"with one":                  {`{` + user + `, "global_name": "Nelly"}`, "Nelly"},
		"from before display names": {`{` + user + `}`, "nelly"},
	} {
		t.Run(name, func(t *testing.T) {
			u := sdk.UserInfo{ID: "80351110224678912", Name: sdk.String("nelly"), RawData: json.RawMessage(c.raw)}
			res, err := m.Apply(t.Context(), u)
			if err != nil {
				t.Fatal(err)
			}
			if res.UserInfo.Name == nil || *res.UserInfo.Name != c.want {
				t.Fatalf("name = %v, want %q", res.UserInfo.Name, c.want)
			}
		})
	}
}
