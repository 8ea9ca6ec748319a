package config

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/idplug/idplug/host/config/internal/walk"
)

func TestProblems(t *testing.T) {
	tests := []struct {
		name string
		data string
		env  map[string]string
		want []string
	}{
		{
			name: "empty file",
			data: "",
			want: []string{"0 plugin_dir: is required", "0 session_keys: is required: at least one key of 32 bytes or more"},
		},
		{
			name: "comments only",
			data: "# nothing here\n",
			want: []string{"0 plugin_dir: is required", "0 session_keys: is required: at least one key of 32 bytes or more"},
		},
		{
			name: "top level is a list",
			data: "- listen: x\n",
			want: []string{"1 : the file must be a mapping of settings (listen:, plugin_dir:, connectors: ...)"},
		},
		{
			name: "syntax error",
			data: doc("listen: 127.0.0.1:8080", "plugin_dir: [a", "x: y"),
			want: []string{"2 : YAML syntax: did not find expected ',' or ']'"},
		},
		{
			name: "a !!binary value",
			data: doc("plugin_dir: x", `session_keys: [!!binary "aGVsbG8gd29ybGQgaGVsbG8gd29ybGQgaGVsbG8gd29ybGQ="]`),
			want: []string{"2 : the YAML tag !!binary is not supported: its value would be read as plain text (a !!binary value as its base64 text, not the bytes); write the value untagged"},
		},
		{
			name: "a custom tag",
			data: doc("plugin_dir: !vault x"),
			want: []string{"1 : the YAML tag !vault is not supported: its value would be read as plain text; write the value untagged"},
		},
		{
			name: "a tab for indentation",
			data: doc("plugin_dir: x", "connectors:", "\t- id: a"),
			want: []string{"3 : YAML syntax: found character that cannot start any token; YAML indents with spaces, not tabs"},
		},
		{
			name: "a key without a space after its colon",
			data: doc("plugin_dir: x", "log_level:debug", "session_keys: [a]"),
			want: []string{"2 : YAML syntax: could not find expected ':'; a key needs a space after its colon (key: value)"},
		},
		{
			name: "syntax error on a later line",
			data: doc("- a", "- b", "c: d"),
			want: []string{"3 : YAML syntax: did not find expected '-' indicator"},
		},
		{
			name: "syntax error reported by the scanner",
			data: withMinimal("listen: 127.0.0.1:8080", "  extra: indented"),
			want: []string{"4 : YAML syntax: mapping values are not allowed in this context"},
		},
		{
			name: "plain reference inside a flow list",
			data: doc("plugin_dir: p", "session_keys: [${KEY}]"),
			want: []string{`2 : YAML syntax: did not find expected ',' or ']'; inside [...] or {...}, put references in quotes: ["${NAME}"]`},
		},
		{
			name: "unknown anchor",
			data: withMinimal("connectors:", "  - *acme"),
			want: []string{`4 : YAML syntax: a value starting with "*" reads as a reference to an anchor that is not defined; put the value in quotes`},
		},
		{
			name: "nested too deeply",
			data: withMinimal("connectors:", "  - id: acme", "    plugin: oauth2", "    config: {a: "+strings.Repeat("[", 70)+strings.Repeat("]", 70)+"}"),
			want: []string{"6 : values are nested more than 64 levels deep"},
		},
		{
			name: "two documents",
			data: withMinimal("---", "listen: x"),
			want: []string{"3 : a second YAML document starts here; the file must hold exactly one"},
		},
		{
			name: "listen not host:port",
			data: withMinimal("listen: 8080"),
			want: []string{
				`3 listen: "8080" must be host:port, like 127.0.0.1:8080`,
			},
		},
		{
			name: "listen bad port",
			data: withMinimal("listen: localhost:http", "public_url: http://localhost"),
			want: []string{`3 listen: "localhost:http" must be host:port with a port number from 0 to 65535`},
		},
		{
			name: "listen port out of range",
			data: withMinimal("listen: 127.0.0.1:65536", "public_url: http://localhost"),
			want: []string{`3 listen: "127.0.0.1:65536" must be host:port with a port number from 0 to 65535`},
		},
		{
			name: "public_url relative",
			data: withMinimal("public_url: /idplug"),
			want: []string{`3 public_url: "/idplug" must be an absolute http or https URL, like https://idplug.example.com`},
		},
		{
			name: "public_url with dot segments",
			data: withMinimal("public_url: http://127.0.0.1:8080/idp/../x"),
			want: []string{`3 public_url: "http://127.0.0.1:8080/idp/../x" must have a clean path, without . or .. segments or //`},
		},
		{
			name: "public_url with a port out of range",
			data: withMinimal("public_url: https://id.example.com:99999"),
			want: []string{`3 public_url: "https://id.example.com:99999" has port 99999, not one from 1 to 65535`},
		},
		{
			name: "public_url with a space",
			data: withMinimal(`public_url: "https://id.example.com/a b"`),
			want: []string{`3 public_url: "https://id.example.com/a b" has a space in it: write it as %20, or choose another path`},
		},
		{
			name: "trusted_proxies that trust the internet",
			data: withMinimal("http:", "  trusted_proxies: [0.0.0.0/0, '::/0', 10.0.0.0/8, 4.0.0.0/6]"),
			want: []string{
				`4 http.trusted_proxies[0]: 0.0.0.0/0 covers too much of the internet: any client there could name itself in X-Forwarded-For; list your proxies' own networks`,
				`4 http.trusted_proxies[1]: ::/0 covers too much of the internet: any client there could name itself in X-Forwarded-For; list your proxies' own networks`,
				`4 http.trusted_proxies[3]: 4.0.0.0/6 covers too much of the internet: any client there could name itself in X-Forwarded-For; list your proxies' own networks`,
			},
		},
		{
			name: "public_url scheme",
			data: withMinimal("public_url: ftp://example.com"),
			want: []string{`3 public_url: "ftp://example.com" must be an absolute http or https URL, like https://idplug.example.com`},
		},
		{
			name: "public_url without host",
			data: withMinimal("public_url: 'http:example.com'"),
			want: []string{`3 public_url: "http:example.com" must be an absolute http or https URL, like https://idplug.example.com`},
		},
		{
			name: "public_url query",
			data: withMinimal("public_url: https://example.com/?a=b"),
			want: []string{`3 public_url: "https://example.com/?a=b" must not have a query or fragment`},
		},
		{
			name: "public_url fragment",
			data: withMinimal("public_url: 'https://example.com/#top'"),
			want: []string{`3 public_url: "https://example.com/#top" must not have a query or fragment`},
		},
		{
			name: "public_url empty fragment",
			data: withMinimal("public_url: 'https://example.com/#'"),
			want: []string{`3 public_url: "https://example.com/#" must not have a query or fragment`},
		},
		{
			name: "public_url credentials are not echoed",
			data: withMinimal("public_url: https://admin:hunter2@example.com"),
			want: []string{`3 public_url: must not contain a user name or password`},
		},
		{
			name: "public_url unparsable",
			data: withMinimal("public_url: 'http://[::1'"),
			want: []string{`3 public_url: "http://[::1" is not a valid URL`},
		},
		{
			name: "public_url required with a public listen address",
			data: withMinimal("listen: 0.0.0.0:8080", "api_keys: ["+apiKeyA+"]"),
			want: []string{`0 public_url: is required unless listen is a loopback address with a fixed port`},
		},
		{
			name: "public_url required with port 0",
			data: withMinimal("listen: 127.0.0.1:0"),
			want: []string{`0 public_url: is required unless listen is a loopback address with a fixed port`},
		},
		{
			name: "plugin_dir empty",
			data: doc(`plugin_dir: ""`, "session_keys: ["+key32+"]"),
			want: []string{`1 plugin_dir: is required`},
		},
		{
			name: "plugin_dir null",
			data: doc(`plugin_dir:`, "session_keys: ["+key32+"]"),
			want: []string{`1 plugin_dir: is required`},
		},
		{
			name: "plugin_dir not a value",
			data: doc(`plugin_dir: [a]`, "session_keys: ["+key32+"]"),
			want: []string{`1 plugin_dir: must be a single value, not a list`},
		},
		{
			name: "session_keys empty list",
			data: doc("plugin_dir: p", "session_keys: []"),
			want: []string{`2 session_keys: is required: at least one key of 32 bytes or more`},
		},
		{
			name: "session_keys not a list",
			data: doc("plugin_dir: p", "session_keys: "+key32),
			want: []string{`2 session_keys: must be a list, like ["..."]`},
		},
		{
			name: "session key too short",
			data: doc("plugin_dir: p", "session_keys:", "  - "+key32, "  - short-secret", `  - ""`, "  -"),
			want: []string{
				`4 session_keys[1]: is 12 bytes, needs at least 32`,
				`5 session_keys[2]: is 0 bytes, needs at least 32`,
				`6 session_keys[3]: is 0 bytes, needs at least 32`,
			},
		},
		{
			name: "session key is a mapping",
			data: doc("plugin_dir: p", "session_keys:", "  - {a: b}"),
			want: []string{`3 session_keys[0]: must be a single value, not a mapping`},
		},
		{
			name: "api_keys required on all interfaces",
			data: withMinimal("listen: :8080", "public_url: https://id.example.com"),
			want: []string{`0 api_keys: is required when listen (:8080) is not a loopback address`},
		},
		{
			name: "api_keys required on a LAN address",
			data: withMinimal("listen: 192.168.1.10:8080", "public_url: https://id.example.com", "api_keys: []"),
			want: []string{`5 api_keys: is required when listen (192.168.1.10:8080) is not a loopback address`},
		},
		{
			name: "api_keys required behind a reverse proxy",
			data: withMinimal("listen: 127.0.0.1:8080", "public_url: https://id.example.com/idp"),
			want: []string{`0 api_keys: is required when public_url (https://id.example.com/idp) is not a loopback address: behind a reverse proxy /v1 would be open to everyone`},
		},
		{
			name: "api_keys required behind a proxy on a LAN name",
			data: withMinimal("listen: 127.0.0.1:8080", "public_url: http://10.0.0.5:8080", "api_keys: []"),
			want: []string{`5 api_keys: is required when public_url (http://10.0.0.5:8080) is not a loopback address: behind a reverse proxy /v1 would be open to everyone`},
		},
		{
			name: "admin_listen not host:port",
			data: withMinimal("admin_listen: metrics"),
			want: []string{`3 admin_listen: "metrics" must be host:port, like 127.0.0.1:8080`},
		},
		{
			name: "admin_listen same as listen",
			data: withMinimal("listen: 127.0.0.1:8080", "admin_listen: 127.0.0.1:8080"),
			want: []string{`4 admin_listen: "127.0.0.1:8080" must differ from listen (127.0.0.1:8080): both would take one port`},
		},
		{
			name: "admin_listen on listen's port, written another way",
			data: withMinimal("listen: 127.0.0.1:8080", "admin_listen: localhost:8080"),
			want: []string{`4 admin_listen: "localhost:8080" must differ from listen (127.0.0.1:8080): both would take one port`},
		},
		{
			name: "admin_listen on every address and listen's port",
			data: withMinimal("listen: 127.0.0.1:8080", "public_url: http://127.0.0.1:8080", "admin_listen: 0.0.0.0:8080"),
			want: []string{`5 admin_listen: "0.0.0.0:8080" must differ from listen (127.0.0.1:8080): both would take one port`},
		},
		{
			name: "api key empty or with spaces",
			data: withMinimal("api_keys: ['', 'abc ', \"a\\nb\", good, " + apiKeyA + "]"),
			want: []string{
				`3 api_keys[0]: is empty`,
				`3 api_keys[1]: must not contain spaces or control characters`,
				`3 api_keys[2]: must not contain spaces or control characters`,
				`3 api_keys[3]: is 4 bytes, needs at least 32 (openssl rand -base64 32 makes one)`,
			},
		},
		{
			name: "call_timeout not a duration",
			data: withMinimal("call_timeout: 10"),
			want: []string{`3 call_timeout: "10" is not a duration, like 10s or 1m30s`},
		},
		{
			name: "call_timeout zero",
			data: withMinimal("call_timeout: 0s"),
			want: []string{`3 call_timeout: "0s" must be more than 0`},
		},
		{
			name: "call_timeout negative",
			data: withMinimal("call_timeout: -1s"),
			want: []string{`3 call_timeout: "-1s" must be more than 0`},
		},
		{
			name: "call_timeout too long",
			data: withMinimal("call_timeout: 5m1s"),
			want: []string{`3 call_timeout: "5m1s" is more than the maximum of 5m`},
		},
		{
			name: "session_ttl",
			data: withMinimal("session_ttl: forever"),
			want: []string{`3 session_ttl: "forever" is not a duration, like 10s or 1m30s`},
		},
		{
			name: "session_ttl too long",
			data: withMinimal("session_ttl: 25h"),
			want: []string{`3 session_ttl: "25h" is more than the maximum of 24h`},
		},
		{
			name: "log settings",
			data: withMinimal("log_level: verbose", "log_format: xml"),
			want: []string{
				`3 log_level: "verbose" must be one of trace, debug, info, warn, error`,
				`4 log_format: "xml" must be one of text, json`,
			},
		},
		{
			name: "unknown top-level keys",
			data: withMinimal("listne: 127.0.0.1:8080", "pluginDir: x", "extra: 1"),
			want: []string{
				`3 listne: unknown key; did you mean listen?`,
				`4 pluginDir: unknown key; did you mean plugin_dir?`,
				`5 extra: unknown key (known keys: listen, public_url, plugin_dir, session_keys, api_keys, call_timeout, log_level, log_format, session_ttl, admin_listen, connectors, sandbox, plugin_user, store, vault_keys, provider, metrics, http, tracing)`,
			},
		},
		{
			name: "key set twice",
			data: withMinimal("log_level: info", "log_level: debug"),
			want: []string{`4 log_level: is set twice (first on line 3)`},
		},
		{
			name: "connectors not a list",
			data: withMinimal("connectors:", "  acme: {plugin: oauth2}"),
			want: []string{`4 connectors: must be a list of connector instances`},
		},
		{
			name: "connector not a mapping",
			data: withMinimal("connectors:", "  - acme"),
			want: []string{`4 connectors[0]: must be a mapping with at least id and plugin`},
		},
		{
			name: "connector id and plugin missing",
			data: withMinimal("connectors:", "  - target: acme"),
			want: []string{`4 connectors[0].id: is required`, `4 connectors[0].plugin: is required`},
		},
		{
			name: "connector id invalid",
			data: withMinimal(
				"connectors:",
				"  - id: good",
				"    plugin: oauth2",
				"  - id: Acme",
				"    plugin: oauth2",
				"  - id: -dash",
				"    plugin: oauth2",
				"  - id: 'a b'",
				"    plugin: oauth2",
			),
			want: []string{
				`6 connectors[1].id: "Acme" must match [a-z0-9][a-z0-9-]*`,
				`8 connectors[2].id: "-dash" must match [a-z0-9][a-z0-9-]*`,
				`10 connectors[3].id: "a b" must match [a-z0-9][a-z0-9-]*`,
			},
		},
		{
			name: "connector ids and targets unique",
			data: withMinimal(
				"connectors:",
				"  - id: acme",
				"    plugin: oauth2",
				"  - id: acme",
				"    plugin: oauth2",
				"    target: other",
				"  - id: third",
				"    plugin: oauth2",
				"    target: acme",
				"  - id: other",
				"    plugin: oauth2",
			),
			want: []string{
				`6 connectors[1].id: "acme" is already the id of connectors[0]`,
				`11 connectors[2].target: "acme" is already the target of connectors[0]`,
				`12 connectors[3].target: "other" is already the target of connectors[1] (target defaults to the id)`,
			},
		},
		{
			name: "connector fields of the wrong shape",
			data: withMinimal(
				"connectors:",
				"  - id: acme",
				"    plugin: oauth2",
				"    target: ''",
				"    name: Acme",
				"    logo: /logo.png",
				"    logoDark: 'javascript:alert(1)'",
				"    config: [a, b]",
			),
			want: []string{
				`6 connectors[0].target: must not be empty; leave it out to use the id`,
				`7 connectors[0].name: must be a mapping of language tag to text, like {en: Acme}`,
				`8 connectors[0].logo: "/logo.png" must be an http, https or data URL`,
				`9 connectors[0].logoDark: "javascript:alert(1)" must be an http, https or data URL`,
				`10 connectors[0].config: must be a mapping of the plugin's settings, not a list`,
			},
		},
		{
			name: "connector name values",
			data: withMinimal(
				"connectors:",
				"  - id: acme",
				"    plugin: oauth2",
				"    name:",
				"      en: [Acme]",
				"      ja:",
			),
			want: []string{`7 connectors[0].name.en: must be text`, `8 connectors[0].name.ja: must be text`},
		},
		{
			name: "unknown connector keys but anything inside config",
			data: withMinimal(
				"connectors:",
				"  - id: acme",
				"    plugin: oauth2",
				"    logo_dark: https://x/y.png",
				"    secret: x",
				"    config:",
				"      anything: goes",
				"      nested: {deep: [1, 2]}",
			),
			want: []string{
				`6 connectors[0].logo_dark: unknown key; did you mean logoDark?`,
				`7 connectors[0].secret: unknown key (known keys: id, plugin, target, name, logo, logoDark, config, mapping)`,
			},
		},
		{
			name: "config value not representable in JSON",
			data: withMinimal(
				"connectors:",
				"  - id: acme",
				"    plugin: oauth2",
				"    config:",
				"      ratio: .nan",
				"      list: [1, -.inf]",
			),
			want: []string{
				`7 connectors[0].config.ratio: .nan cannot be represented in JSON`,
				`8 connectors[0].config.list[1]: -.inf cannot be represented in JSON`,
			},
		},
		{
			name: "config key set twice",
			data: withMinimal(
				"connectors:",
				"  - id: acme",
				"    plugin: oauth2",
				"    config: {a: 1, b: 2, a: 3}",
			),
			want: []string{`6 connectors[0].config.a: is set twice (first on line 6)`},
		},
		{
			name: "unset variable",
			data: withMinimal(`api_keys: ["${API_KEY}"]`, "log_level: ${LEVEL}"),
			want: []string{
				`3 api_keys[0]: environment variable API_KEY is not set`,
				`4 log_level: environment variable LEVEL is not set`,
			},
		},
		{
			name: "unset variable in a session key is reported once",
			data: doc("plugin_dir: p", "session_keys:", "  - ${SESSION_KEY}"),
			want: []string{`3 session_keys[0]: environment variable SESSION_KEY is not set`},
		},
		{
			name: "unset variable inside config",
			data: withMinimal(
				"connectors:",
				"  - id: acme",
				"    plugin: oauth2",
				"    config:",
				"      clientSecret: ${ACME_SECRET}",
			),
			want: []string{`7 connectors[0].config.clientSecret: environment variable ACME_SECRET is not set`},
		},
		{
			name: "bad references",
			data: withMinimal("log_level: ${1ABC}", "log_format: ${OPEN"),
			want: []string{
				`3 log_level: "${1ABC}" is not a valid reference: use ${NAME}, ${NAME:-default} or ${file:PATH}, and $$ for a literal $`,
				`4 log_format: "${" has no closing "}" (write $$ for a literal $)`,
			},
		},
		{
			name: "alias that contains itself",
			data: withMinimal(
				"connectors:",
				"  - id: acme",
				"    plugin: oauth2",
				"    config: &c",
				"      self: *c",
			),
			want: []string{`7 connectors[0].config.self: refers to itself through an alias`},
		},
		{
			name: "merge of a non-mapping",
			data: withMinimal(
				"connectors:",
				"  - id: acme",
				"    plugin: oauth2",
				"    config:",
				"      <<: [1]",
			),
			want: []string{`7 connectors[0].config: << must merge a mapping or a list of mappings`},
		},
		{
			name: "every problem at once",
			data: doc(
				"listen: 0.0.0.0:8080",
				"public_url: example.com",
				"session_keys: [short]",
				"call_timeout: 1h",
				"connectors:",
				"  - id: Acme",
			),
			want: []string{
				`0 plugin_dir: is required`,
				`0 api_keys: is required when listen (0.0.0.0:8080) is not a loopback address`,
				`2 public_url: "example.com" must be an absolute http or https URL, like https://idplug.example.com`,
				`3 session_keys[0]: is 5 bytes, needs at least 32`,
				`4 call_timeout: "1h" is more than the maximum of 5m`,
				`6 connectors[0].plugin: is required`,
				`6 connectors[0].id: "Acme" must match [a-z0-9][a-z0-9-]*`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := problemsOf(t, tt.data, tt.env)
			if !slices.Equal(got, tt.want) {
				t.Errorf("problems:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(tt.want, "\n     "))
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	data := withMinimal(
		"connectors:",
		"  - id: acme",
		"    plugin: oauth2",
		"  - id: Acme",
		"    plugin: oauth2",
		"call_timeout: soon",
	)
	_, err := Parse([]byte(data), envOf(nil), "/")
	want := `idplug.yaml:6: connectors[1].id: "Acme" must match [a-z0-9][a-z0-9-]*` + "\n" +
		`idplug.yaml:8: call_timeout: "soon" is not a duration, like 10s or 1m30s`
	if err == nil || err.Error() != want {
		t.Errorf("Error() =\n%v\nwant\n%s", err, want)
	}

	e := &Error{File: "/etc/idplug.yaml", Problems: []Problem{
		{Field: "plugin_dir", Message: "is required"},
		{Line: 3, Message: "YAML syntax: oops"},
	}}
	want = "/etc/idplug.yaml: plugin_dir: is required\n/etc/idplug.yaml:3: YAML syntax: oops"
	if e.Error() != want {
		t.Errorf("Error() =\n%s\nwant\n%s", e.Error(), want)
	}
}

func TestProblemsAreCapped(t *testing.T) {
	lines := []string{"connectors:"}
	for i := range 150 {
		lines = append(lines, fmt.Sprintf("  - id: Bad%d", i), "    plugin: oauth2")
	}
	got := problemsOf(t, withMinimal(lines...), nil)
	if len(got) != walk.MaxProblems+1 || got[walk.MaxProblems] != "0 : and 50 more problems" {
		t.Errorf("got %d problems, last %q", len(got), got[len(got)-1])
	}
}

// A plugin's field errors point at the field's line: the key itself when it is
// written, the nearest written parent when it is missing, the instance when
// the field is not in the file at all.
func TestInstanceLineOf(t *testing.T) {
	cfg := mustParse(t, `plugin_dir: /plugins
session_keys: ["0123456789abcdef0123456789abcdef-key"]
connectors:
  - id: acme
    plugin: oauth2
    config:
      clientId: x
      profileMap:
        id: sub
      scopes:
        - openid
        - email
`, nil)
	c := cfg.Instances[0]
	for field, want := range map[string]int{
		"plugin":                  5,
		"config":                  6,
		"config.clientId":         7,
		"config.clientSecret":     6, // missing: its parent
		"config.profileMap.id":    9,
		"config.profileMap.email": 8,
		"config.scopes[1]":        12,
		"target":                  4, // not written: the instance
		"":                        4,
	} {
		if got := c.LineOf(field); got != want {
			t.Errorf("LineOf(%q) = %d, want %d", field, got, want)
		}
	}
}

// A duration below what the setting can work with is refused at load: a
// call_timeout of 1ms had refused every plugin at its metadata call (the
// problem then blamed each connector's plugin), a read_header_timeout of 1ns
// reset every connection without a word.
func TestDurationsBelowTheirMinimum(t *testing.T) {
	cases := map[string]struct {
		lines []string
		want  string
	}{
		"days":                {[]string{"session_ttl: 30d"}, `4 session_ttl: "30d" is not a duration: durations have no days; write 720h`},
		"call_timeout":        {[]string{"call_timeout: 1ms"}, `4 call_timeout: "1ms" is less than the minimum of 1s`},
		"session_ttl":         {[]string{"session_ttl: 1s"}, `4 session_ttl: "1s" is less than the minimum of 1m`},
		"read_header_timeout": {[]string{"http: {read_header_timeout: 1ns}"}, `4 http.read_header_timeout: "1ns" is less than the minimum of 1s`},
		"store.timeout":       {[]string{"store: {timeout: 1ms}"}, `4 store.timeout: "1ms" is less than the minimum of 100ms`},
		"refresh_token_ttl": {[]string{"connectors: [{id: acme, plugin: oauth2}]", "provider:", "  refresh_token_ttl: 1ns",
			"  clients: [{id: a, public: true, redirect_uris: [https://a.example/cb]}]"}, `6 provider.refresh_token_ttl: "1ns" is less than the minimum of 1m`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got := problemsOf(t, withMinimal(append([]string{"listen: 127.0.0.1:8080"}, c.lines...)...), nil)
			if !slices.ContainsFunc(got, func(p string) bool { return strings.HasPrefix(p, c.want) }) {
				t.Errorf("problems %q, want %q", got, c.want)
			}
		})
	}
}

// A connector's id is in every route and cookie of the connector: a
// 5,000-byte one had loaded, and every sign-in then failed with a cookie too
// large to keep, blamed on the plugin.
func TestConnectorIDsAreBounded(t *testing.T) {
	got := problemsOf(t, withMinimal("connectors:", "  - id: "+strings.Repeat("a", 65), "    plugin: oauth2"), nil)
	if want := "4 connectors[0].id: is 65 bytes, at most 64"; !slices.ContainsFunc(got, func(p string) bool { return strings.HasPrefix(p, want) }) {
		t.Errorf("problems %q, want %q", got, want)
	}
	mustParse(t, withMinimal("connectors:", "  - id: "+strings.Repeat("a", 64), "    plugin: oauth2"), nil)
}

// Wide networks that are no part of the internet pass as trusted proxies, and
// a space written as %20 passes in public_url.
func TestPrivateRangesAndEscapedSpacesPass(t *testing.T) {
	cfg := mustParse(t, withMinimal("http:", "  trusted_proxies: ['fc00::/7', 'fe80::/10', 10.0.0.0/8]",
		"listen: 127.0.0.1:8080", "public_url: http://127.0.0.1:8080/a%20b"), nil)
	if len(cfg.HTTP.TrustedProxies) != 3 || cfg.PublicURL != "http://127.0.0.1:8080/a%20b" {
		t.Errorf("trusted proxies %v, public_url %q", cfg.HTTP.TrustedProxies, cfg.PublicURL)
	}
}
