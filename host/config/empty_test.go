package config

import (
	"strings"
	"testing"
)

// A key written with no value, or whose reference is empty, reads as null in
// YAML, and null had read as a key left out: where leaving a key out grants
// more (no allow rule lets everyone sign in, no connectors list means every
// connector, no store URL the default SQLite file), an empty ${VAR} widened
// what the file says without a word. Each is refused, naming what leaving the
// key out would mean.
func TestEmptyValuesDoNotWidenWhatTheFileSays(t *testing.T) {
	connector := []string{"connectors:", "  - id: acme", "    plugin: oauth2"}
	cases := map[string]struct {
		lines []string
		want  string
	}{
		"an allow rule from an empty variable": {
			append(connector, "    mapping:", "      allow: ${ALLOW_RULE}"),
			"7 connectors[0].mapping.allow: has no value (written empty, or a reference that is empty); leave it out to let everyone sign in"},
		"an allow rule written empty": {
			append(connector, "    mapping:", "      allow:"),
			"7 connectors[0].mapping.allow: has no value"},
		"a mapping from an empty variable": {
			append(connector, "    mapping: ${MAPPING}"),
			"6 connectors[0].mapping: has no value (written empty, or a reference that is empty); leave it out for no mapping"},
		"a claim written empty": {
			append(connector, "    mapping:", "      claims: {org: }"),
			"7 connectors[0].mapping.claims.org: has no value"},
		"a profile field written empty": {
			append(connector, "    mapping:", "      name:"),
			"7 connectors[0].mapping.name: has no value (written empty, or a reference that is empty); leave it out to keep the connector's value"},
		"an API key's connectors from an empty variable": {
			append(connector, "api_keys:", "  - key: \""+strings.Repeat("k", 40)+"\"", "    scopes: [signin]", "    connectors: ${APP_CONNECTORS}"),
			"9 api_keys[0].connectors: has no value (written empty, or a reference that is empty); leave it out for every connector, or name them"},
		"a provider client's connectors written empty": {
			append(connector, "provider:", "  clients:", "    - {id: app, public: true, redirect_uris: [https://a.example/cb], connectors: }"),
			"8 provider.clients[0].connectors: has no value (written empty, or a reference that is empty); leave it out for every connector, or name them"},
		"a provider client's connectors, an empty list": {
			append(connector, "provider:", "  clients:", "    - {id: app, public: true, redirect_uris: [https://a.example/cb], connectors: []}"),
			"8 provider.clients[0].connectors: must name at least one connector; leave it out for every connector"},
		"the store's URL from an empty variable": {
			[]string{"store:", "  url: ${IDPLUG_STORE_URL}"},
			"4 store.url: has no value (written empty, or a reference that is empty); leave it out for sqlite:idplug.db beside this file, or write off"},
		"the sandbox's mode from an empty variable": {
			[]string{"sandbox:", "  mode: ${SANDBOX_MODE}"},
			"4 sandbox.mode: has no value (written empty, or a reference that is empty); leave it out for auto, or write auto, required or off"},
	}
	env := map[string]string{"ALLOW_RULE": "", "MAPPING": "", "APP_CONNECTORS": "", "IDPLUG_STORE_URL": "", "SANDBOX_MODE": ""}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got := problemsOf(t, withMinimal(c.lines...), env)
			for _, p := range got {
				if strings.HasPrefix(p, c.want) {
					return
				}
			}
			t.Errorf("problems %q, want one starting with %q", got, c.want)
		})
	}
}
