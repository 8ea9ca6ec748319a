package config

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/idplug/idplug/sdk"
)

func TestMappingIsCompiledWithTheConfig(t *testing.T) {
	cfg := mustParse(t, withMinimal(
		"connectors:",
		"  - id: gh",
		"    plugin: github",
		"    mapping:",
		"      name: raw.?name.orValue(raw.login)",
		"      claims:",
		"        orgs: raw.orgs.map(o, o.login)",
		"      allow: raw.orgs.exists(o, o.login == 'acme')",
		"      allow_reason: only members of acme",
		"  - id: plain",
		"    plugin: github",
	), nil)
	m := cfg.Instances[0].Mapping
	if m == nil || cfg.Instances[1].Mapping != nil {
		t.Fatalf("mappings = %v, %v", m, cfg.Instances[1].Mapping)
	}
	u := sdk.UserInfo{ID: "1", RawData: json.RawMessage(`{"login": "ada", "orgs": [{"login": "acme"}]}`)}
	res, err := m.Apply(t.Context(), u)
	if err != nil || *res.UserInfo.Name != "ada" || len(res.Claims["orgs"].([]any)) != 1 {
		t.Fatalf("%+v %v", res, err)
	}
	u.RawData = json.RawMessage(`{"login": "eve", "orgs": []}`)
	if _, err := m.Apply(t.Context(), u); err == nil || !strings.Contains(err.Error(), "only members of acme") {
		t.Fatalf("err = %v", err)
	}
}

func TestMappingProblemsPointAtTheExpression(t *testing.T) {
	_, err := Parse([]byte(withMinimal(
		"connectors:",
		"  - id: gh",
		"    plugin: github",
		"    mapping:",
		"      nmae: raw.login",
		"      email: raw.login +",
		"      id: raw.login",
		"      claims:",
		"        sub: raw.login",
		"        groups: profile.groups",
		"      allow: '\"yes\"'",
		"      allow_id_change: maybe",
		"  - id: two",
		"    plugin: github",
		"    mapping: raw.login",
	)), envOf(nil), "/")
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v", err)
	}
	want := []string{
		"idplug.yaml:7: connectors[0].mapping.nmae: unknown key; did you mean name?",
		"idplug.yaml:8: connectors[0].mapping.email: column 12 of the expression: Syntax error",
		"idplug.yaml:9: connectors[0].mapping.id: changing the id makes every user a new user",
		`idplug.yaml:11: connectors[0].mapping.claims.sub: "sub" is set by idplug itself`,
		`idplug.yaml:12: connectors[0].mapping.claims.groups: column 8 of the expression: profile has no field "groups"`,
		"idplug.yaml:13: connectors[0].mapping.allow: must yield a bool, but yields string",
		`idplug.yaml:14: connectors[0].mapping.allow_id_change: "maybe" must be true or false`,
		"idplug.yaml:17: connectors[1].mapping: must be a mapping of profile fields",
	}
	msg := err.Error()
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("no %q in:\n%s", w, msg)
		}
	}
}
