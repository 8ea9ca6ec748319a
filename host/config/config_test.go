package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idplug/idplug/host/apikey"
	"github.com/idplug/idplug/host/config/internal/walk"
)

const (
	apiKeyA = "api-key-a-0123456789abcdef012345" // 32 bytes
	apiKeyB = "api-key-b-0123456789abcdef012345"
	key32   = "0123456789abcdef0123456789abcdef"
	key40   = "0123456789abcdef0123456789abcdef01234567"
)

// doc joins lines into a file, so that line numbers in cases are easy to count.
func doc(lines ...string) string { return strings.Join(lines, "\n") + "\n" }

// minimal is a valid file of two lines; cases append to it from line 3.
var minimal = []string{
	"plugin_dir: ./plugins",
	`session_keys: ["` + key32 + `"]`,
}

func withMinimal(lines ...string) string { return doc(append(slices.Clone(minimal), lines...)...) }

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func mustParse(t *testing.T, data string, env map[string]string) *Config {
	t.Helper()
	cfg, err := Parse([]byte(data), envOf(env), "/etc/idplug")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return cfg
}

// problemsOf parses data and returns its problems as "line field: message".
func problemsOf(t *testing.T, data string, env map[string]string) []string {
	t.Helper()
	cfg, err := Parse([]byte(data), envOf(env), "/etc/idplug")
	if err == nil {
		t.Fatalf("Parse succeeded (%v), want problems", cfg)
	}
	if cfg != nil {
		t.Errorf("Parse returned a Config along with an error")
	}
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %T %v is not a *config.Error", err, err)
	}
	out := make([]string, len(ce.Problems))
	for i, p := range ce.Problems {
		out[i] = fmt.Sprintf("%d %s: %s", p.Line, p.Field, p.Message)
	}
	return out
}

func TestParseFull(t *testing.T) {
	data := doc(
		"listen: 0.0.0.0:9000",
		"public_url: https://id.example.com/base/",
		"plugin_dir: /opt/idplug/plugins",
		`session_keys: ["${NEW_KEY}", "${OLD_KEY}"]`,
		"api_keys: ["+apiKeyA+", "+apiKeyB+"]",
		"call_timeout: 30s",
		"log_level: debug",
		"log_format: json",
		"session_ttl: 5m",
		"admin_listen: 127.0.0.1:9100",
		"connectors:",
		"  - id: acme",
		"    plugin: oauth2",
		"    target: acme-idp",
		"    name: {en: Acme, ja: アクメ}",
		"    logo: https://acme.example/logo.svg",
		"    logoDark: data:image/svg+xml;base64,PHN2Zy8+",
		"    config:",
		"      clientId: abc",
		"      scope: openid email",
		"  - id: other",
		"    plugin: oauth2",
	)
	cfg := mustParse(t, data, map[string]string{"NEW_KEY": key40, "OLD_KEY": key32})
	want := Config{
		Listen:      "0.0.0.0:9000",
		PublicURL:   "https://id.example.com/base",
		PluginDir:   "/opt/idplug/plugins",
		SessionKeys: [][]byte{[]byte(key40), []byte(key32)},
		APIKeys:     []apikey.Key{apikey.Unscoped(apiKeyA), apikey.Unscoped(apiKeyB)},
		AdminListen: "127.0.0.1:9100",
		CallTimeout: 30 * time.Second,
		LogLevel:    "debug",
		LogFormat:   "json",
		SessionTTL:  5 * time.Minute,
	}
	got := *cfg
	got.Instances = nil
	if !equalConfig(got, want) {
		t.Errorf("config:\n got %#v\nwant %#v", got, want)
	}
	if len(cfg.Instances) != 2 {
		t.Fatalf("got %d connectors, want 2", len(cfg.Instances))
	}
	c := cfg.Instances[0]
	if c.ID != "acme" || c.Plugin != "oauth2" || c.Target != "acme-idp" || c.EffectiveTarget() != "acme-idp" ||
		c.Name["en"] != "Acme" || c.Name["ja"] != "アクメ" || len(c.Name) != 2 ||
		c.Logo != "https://acme.example/logo.svg" || c.LogoDark != "data:image/svg+xml;base64,PHN2Zy8+" || c.Line != 12 {
		t.Errorf("connector 0 = %+v", c)
	}
	if string(c.Config) != `{"clientId":"abc","scope":"openid email"}` {
		t.Errorf("connector 0 config = %s", c.Config)
	}
	c = cfg.Instances[1]
	if c.Target != "" || c.EffectiveTarget() != "other" || string(c.Config) != "{}" || c.Line != 21 {
		t.Errorf("connector 1 = %+v", c)
	}
}

func equalConfig(a, b Config) bool {
	return a.Listen == b.Listen && a.PublicURL == b.PublicURL && a.PluginDir == b.PluginDir &&
		slices.EqualFunc(a.SessionKeys, b.SessionKeys, func(x, y []byte) bool { return string(x) == string(y) }) &&
		slices.EqualFunc(a.APIKeys, b.APIKeys, func(x, y apikey.Key) bool { return reflect.DeepEqual(x, y) }) && a.CallTimeout == b.CallTimeout && a.LogLevel == b.LogLevel &&
		a.LogFormat == b.LogFormat && a.SessionTTL == b.SessionTTL && a.AdminListen == b.AdminListen && len(a.Instances) == len(b.Instances)
}

func TestDefaults(t *testing.T) {
	cfg := mustParse(t, withMinimal(), nil)
	checks := []struct {
		name      string
		got, want any
	}{
		{"Listen", cfg.Listen, DefaultListen},
		{"PublicURL", cfg.PublicURL, "http://" + DefaultListen},
		{"PluginDir", cfg.PluginDir, filepath.Join("/etc/idplug", "plugins")},
		{"CallTimeout", cfg.CallTimeout, 10 * time.Second},
		{"SessionTTL", cfg.SessionTTL, 10 * time.Minute},
		{"LogLevel", cfg.LogLevel, "info"},
		{"LogFormat", cfg.LogFormat, "text"},
		{"APIKeys", len(cfg.APIKeys), 0},
		{"Instances", len(cfg.Instances), 0},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestDefaultPublicURLFollowsListen(t *testing.T) {
	tests := []struct{ listen, want string }{
		{"127.0.0.1:9999", "http://127.0.0.1:9999"},
		{"localhost:80", "http://localhost:80"},
		{"'[::1]:8080'", "http://[::1]:8080"},
	}
	for _, tt := range tests {
		cfg := mustParse(t, withMinimal("listen: "+tt.listen), nil)
		if cfg.PublicURL != tt.want {
			t.Errorf("listen %s: PublicURL = %q, want %q", tt.listen, cfg.PublicURL, tt.want)
		}
	}
}

func TestPluginDirResolution(t *testing.T) {
	tests := []struct{ dir, want string }{
		{"./bin/plugins", "/etc/idplug/bin/plugins"},
		{"plugins/", "/etc/idplug/plugins"},
		{"../lib/idplug", "/etc/lib/idplug"},
		{"/var/lib/idplug/plugins", "/var/lib/idplug/plugins"},
	}
	for _, tt := range tests {
		cfg := mustParse(t, doc("plugin_dir: "+tt.dir, "session_keys: ["+key32+"]"), nil)
		if cfg.PluginDir != tt.want {
			t.Errorf("plugin_dir %s: got %q, want %q", tt.dir, cfg.PluginDir, tt.want)
		}
	}
}

func TestSessionKeysKeepOrder(t *testing.T) {
	keys := []string{"c" + key32, "a" + key32, "b" + key32}
	cfg := mustParse(t, doc(
		"plugin_dir: p",
		"session_keys:",
		"  - ${K1}",
		"  - ${K2}",
		"  - "+keys[2],
	), map[string]string{"K1": keys[0], "K2": keys[1]})
	if len(cfg.SessionKeys) != 3 {
		t.Fatalf("got %d keys", len(cfg.SessionKeys))
	}
	for i, k := range keys {
		if string(cfg.SessionKeys[i]) != k {
			t.Errorf("session key %d out of order", i)
		}
	}
}

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
			want: []string{"4 : YAML syntax: unknown anchor 'acme' referenced"},
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
				`0 public_url: is required`,
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
			want: []string{`4 admin_listen: "127.0.0.1:8080" must differ from listen`},
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
			want: []string{`3 call_timeout: "5m1s" is more than the maximum of 5m0s`},
		},
		{
			name: "session_ttl",
			data: withMinimal("session_ttl: forever"),
			want: []string{`3 session_ttl: "forever" is not a duration, like 10s or 1m30s`},
		},
		{
			name: "session_ttl too long",
			data: withMinimal("session_ttl: 25h"),
			want: []string{`3 session_ttl: "25h" is more than the maximum of 24h0m0s`},
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
				`4 call_timeout: "1h" is more than the maximum of 5m0s`,
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

func TestSecretsAreNotPrinted(t *testing.T) {
	const secret = "hunter2-short"
	data := doc("plugin_dir: p", "session_keys: ['"+secret+"', '${KEY}']", "api_keys: ['"+secret+" ']")
	_, err := Parse([]byte(data), envOf(map[string]string{"KEY": "also-" + secret}), "/")
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("error leaks a secret or is missing: %v", err)
	}
	cfg := mustParse(t, withMinimal("api_keys: ["+secret+apiKeyA+"]"), nil)
	for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", *cfg), fmt.Sprintf("%v", cfg), fmt.Sprintf("%#v", cfg)} {
		if strings.Contains(s, secret) || strings.Contains(s, key32) {
			t.Errorf("printing a Config leaks a secret: %s", s)
		}
	}
}

func TestLoopback(t *testing.T) {
	tests := []struct {
		host string
		want bool
	}{
		{"127.0.0.1", true},
		{"127.10.20.30", true},
		{"localhost", true},
		{"LocalHost", true},
		{"::1", true},
		{"::ffff:127.0.0.1", true},
		{"", false},
		{"0.0.0.0", false},
		{"::", false},
		{"128.0.0.1", false},
		{"10.0.0.1", false},
		{"localhost.example.com", false},
		{"example.com", false},
	}
	for _, tt := range tests {
		if got := isLoopback(tt.host); got != tt.want {
			t.Errorf("isLoopback(%q) = %v, want %v", tt.host, got, tt.want)
		}
	}
}

func TestAPIKeysOptionalOnLoopback(t *testing.T) {
	for _, listen := range []string{"127.0.0.1:8080", "127.0.0.2:1", "localhost:8080", "'[::1]:8080'"} {
		cfg := mustParse(t, withMinimal("listen: "+listen), nil)
		if len(cfg.APIKeys) != 0 {
			t.Errorf("listen %s: APIKeys = %v", listen, cfg.APIKeys)
		}
	}
	for _, public := range []string{"http://127.0.0.1:1", "http://localhost:8080/idp", "http://[::1]:8080"} {
		cfg := mustParse(t, withMinimal("listen: 127.0.0.1:0", "public_url: '"+public+"'"), nil)
		if len(cfg.APIKeys) != 0 {
			t.Errorf("public_url %s: APIKeys = %v", public, cfg.APIKeys)
		}
	}
	cfg := mustParse(t, withMinimal("listen: 0.0.0.0:8080", "public_url: https://id.example.com", "api_keys: ["+apiKeyA+"]"), nil)
	if len(cfg.APIKeys) != 1 || cfg.APIKeys[0].Secret != apiKeyA || !cfg.APIKeys[0].Plain {
		t.Errorf("APIKeys = %v", cfg.APIKeys)
	}
}

func TestExpand(t *testing.T) {
	env := envOf(map[string]string{"A": "alpha", "EMPTY": "", "NESTED": "${A}", "DOLLAR": "$$"})
	tests := []struct {
		in, want string
		errs     []string
	}{
		{in: "plain", want: "plain"},
		{in: "${A}", want: "alpha"},
		{in: "x-${A}-y", want: "x-alpha-y"},
		{in: "${A}${A}", want: "alphaalpha"},
		{in: "$$", want: "$"},
		{in: "$${A}", want: "${A}"},
		{in: "$$$${A}", want: "$${A}"},
		{in: "$$${A}", want: "$alpha"},
		{in: "cost: $5", want: "cost: $5"},
		{in: "$", want: "$"},
		{in: "a$", want: "a$"},
		{in: "$HOME", want: "$HOME"},
		{in: "${EMPTY}", want: ""},
		{in: "${NESTED}", want: "${A}"},
		{in: "${DOLLAR}", want: "$$"},
		{in: "${MISSING:-fallback}", want: "fallback"},
		{in: "${EMPTY:-fallback}", want: "fallback"},
		{in: "${A:-fallback}", want: "alpha"},
		{in: "${MISSING:-}", want: ""},
		{in: "${MISSING:-a:-b}", want: "a:-b"},
		{in: "${MISSING}", want: "", errs: []string{"environment variable MISSING is not set"}},
		{in: "${X1} ${X2}", want: " ", errs: []string{"environment variable X1 is not set", "environment variable X2 is not set"}},
		{in: "${}", want: "", errs: []string{`"${}" is not a valid reference: use ${NAME}, ${NAME:-default} or ${file:PATH}, and $$ for a literal $`}},
		{in: "${A B}", want: "", errs: []string{`"${A B}" is not a valid reference: use ${NAME}, ${NAME:-default} or ${file:PATH}, and $$ for a literal $`}},
		{in: "${A", want: "${A", errs: []string{`"${" has no closing "}" (write $$ for a literal $)`}},
	}
	for _, tt := range tests {
		got, errs := expand(tt.in, lookup{env: env})
		if len(tt.errs) == 0 && got != tt.want || !slices.Equal(errs, tt.errs) {
			t.Errorf("expand(%q) = %q, %q; want %q, %q", tt.in, got, errs, tt.want, tt.errs)
		}
	}
}

// A value from the environment is data: YAML syntax in it must not change
// the structure of the document.
func TestInterpolatedValuesCannotChangeStructure(t *testing.T) {
	nasty := "x\nlog_level: trace\n- [a, {b: c}] # ' \" & *anchor !tag %"
	data := withMinimal(
		"public_url: ${URL}",
		"connectors:",
		"  - id: acme",
		"    plugin: oauth2",
		"    config:",
		"      plain: ${NASTY}",
		`      double: "${NASTY}"`,
		"      single: '${NASTY}'",
		"      block: |",
		"        ${NASTY}",
		"      key: pre-${COLON}-post",
	)
	cfg := mustParse(t, data, map[string]string{"NASTY": nasty, "COLON": "a: b", "URL": "http://127.0.0.1:8080/"})
	if cfg.LogLevel != "info" {
		t.Errorf("LogLevel = %q: an environment value changed the document", cfg.LogLevel)
	}
	if cfg.PublicURL != "http://127.0.0.1:8080" {
		t.Errorf("PublicURL = %q", cfg.PublicURL)
	}
	var got map[string]string
	if err := json.Unmarshal(cfg.Instances[0].Config, &got); err != nil {
		t.Fatalf("config %s: %v", cfg.Instances[0].Config, err)
	}
	want := map[string]string{"plain": nasty, "double": nasty, "single": nasty, "block": nasty + "\n", "key": "pre-a: b-post"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("config.%s = %q, want %q", k, got[k], v)
		}
	}
}

func TestInterpolationTyping(t *testing.T) {
	data := withMinimal(
		"call_timeout: ${TIMEOUT}",
		"connectors:",
		"  - id: ${ID}",
		"    plugin: oauth2",
		"    name: {en: '${NAME}'}",
		"    config:",
		"      port: ${PORT}",
		`      portText: "${PORT}"`,
		"      enabled: ${TRUE}",
		"      nothing: ${EMPTY}",
		"      cost: $$5",
		"      escaped: $${PORT}",
		"      fallback: ${UNSET:-42}",
		"      tagged: !!str ${PORT}",
	)
	env := map[string]string{"TIMEOUT": "45s", "ID": "acme", "NAME": "Acme & Co", "PORT": "8443", "TRUE": "true", "EMPTY": ""}
	cfg := mustParse(t, data, env)
	if cfg.CallTimeout != 45*time.Second {
		t.Errorf("CallTimeout = %v", cfg.CallTimeout)
	}
	c := cfg.Instances[0]
	if c.ID != "acme" || c.Name["en"] != "Acme & Co" {
		t.Errorf("connector = %+v", c)
	}
	want := `{"port":8443,"portText":"8443","enabled":true,"nothing":null,"cost":"$5","escaped":"${PORT}","fallback":42,"tagged":"8443"}`
	if string(c.Config) != want {
		t.Errorf("config =\n%s\nwant\n%s", c.Config, want)
	}
}

func TestConfigJSON(t *testing.T) {
	tests := []struct {
		name string
		yaml []string
		want string
	}{
		{"key names kept", []string{"clientId: a", "client_secret: b", "Token-URL: c", `"dotted.key": d`, "'1': e"},
			`{"clientId":"a","client_secret":"b","Token-URL":"c","dotted.key":"d","1":"e"}`},
		{"key order kept", []string{"z: 1", "a: 2", "m: 3"}, `{"z":1,"a":2,"m":3}`},
		{"integers", []string{"i: 42", "neg: -7", "hex: 0x1F", "octal: 0o17", "under: 1_000", "max: 9223372036854775807", "umax: 18446744073709551615"},
			`{"i":42,"neg":-7,"hex":31,"octal":15,"under":1000,"max":9223372036854775807,"umax":18446744073709551615}`},
		{"big integers exact", []string{"big: 123456789012345678901234567890", "nbig: -98765432109876543210987654321"},
			`{"big":123456789012345678901234567890,"nbig":-98765432109876543210987654321}`},
		{"floats", []string{"a: 1.5", "b: 1.50", "c: 1e3", "d: -0.25", "e: .5", "f: 6.02e+23"},
			`{"a":1.5,"b":1.50,"c":1e3,"d":-0.25,"e":0.5,"f":6.02e+23}`},
		{"strings stay strings", []string{`a: "42"`, "b: '1.5'", `c: "true"`, "d: 2024-01-02", "e: yes", "f: '<a href=\"x\">&</a>'", "g: アクメ"},
			`{"a":"42","b":"1.5","c":"true","d":"2024-01-02","e":"yes","f":"<a href=\"x\">&</a>","g":"アクメ"}`},
		{"null and bool", []string{"a: null", "b: ~", "c:", "d: true", "e: False"}, `{"a":null,"b":null,"c":null,"d":true,"e":false}`},
		{"nested", []string{"list: [1, two, {x: [true]}]", "map: {a: {b: {}}}", "empty: []"},
			`{"list":[1,"two",{"x":[true]}],"map":{"a":{"b":{}}},"empty":[]}`},
		{"anchors and merge keys", []string{"base: &b {scope: openid, prompt: login}", "merged:", "  <<: *b", "  prompt: consent", "list: [*b]"},
			`{"base":{"scope":"openid","prompt":"login"},"merged":{"scope":"openid","prompt":"consent"},"list":[{"scope":"openid","prompt":"login"}]}`},
		{"merge list order", []string{"a: &a {x: 1, y: 1}", "b: &b {y: 2, z: 2}", "m:", "  <<: [*a, *b]"},
			`{"a":{"x":1,"y":1},"b":{"y":2,"z":2},"m":{"x":1,"y":1,"z":2}}`},
		{"quoted merge key is a plain key", []string{`"<<": x`}, `{"<<":"x"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines := []string{"connectors:", "  - id: acme", "    plugin: oauth2", "    config:"}
			for _, l := range tt.yaml {
				lines = append(lines, "      "+l)
			}
			cfg := mustParse(t, withMinimal(lines...), nil)
			got := cfg.Instances[0].Config
			if string(got) != tt.want {
				t.Errorf("config =\n%s\nwant\n%s", got, tt.want)
			}
			if !json.Valid(got) {
				t.Errorf("config is not valid JSON: %s", got)
			}
		})
	}
}

func TestConnectorsShareConfigThroughAnchors(t *testing.T) {
	cfg := mustParse(t, withMinimal(
		"connectors:",
		"  - &acme",
		"    id: acme",
		"    plugin: oauth2",
		"    config: {clientId: one}",
		"  - <<: *acme",
		"    id: acme-eu",
		"    target: acme-eu",
	), nil)
	if len(cfg.Instances) != 2 {
		t.Fatalf("connectors = %+v", cfg.Instances)
	}
	c := cfg.Instances[1]
	if c.ID != "acme-eu" || c.Plugin != "oauth2" || string(c.Config) != `{"clientId":"one"}` {
		t.Errorf("merged connector = %+v", c)
	}
}

// Nested aliases must not expand without bound.
// TestAliasExpansionIsBounded: a "billion laughs" file, each level an alias
// list of ten of the level below, is refused once MaxNodes values are
// visited. The work is measured in allocations, which do not depend on the
// machine's speed: twenty levels (10^20 values once expanded) cost no more
// than ten (10^10), and both stay proportional to MaxNodes, not to the
// expansion.
func TestAliasExpansionIsBounded(t *testing.T) {
	laughs := func(levels int) string {
		lines := []string{"connectors:", "  - id: acme", "    plugin: oauth2", "    config:", "      a0: &a0 [x, x, x, x, x, x, x, x, x, x]"}
		for i := 1; i < levels; i++ {
			prev := fmt.Sprintf("*a%d", i-1)
			lines = append(lines, fmt.Sprintf("      a%d: &a%d [%s]", i, i, strings.Repeat(prev+", ", 9)+prev))
		}
		return withMinimal(lines...)
	}
	allocs := map[int]float64{}
	for _, levels := range []int{10, 20} {
		doc := laughs(levels)
		allocs[levels] = testing.AllocsPerRun(1, func() {
			got := problemsOf(t, doc, nil)
			if len(got) != 1 || !strings.Contains(got[0], "too many values once aliases are expanded") {
				t.Errorf("%d levels: problems = %q", levels, got)
			}
		})
	}
	t.Logf("allocations: %v", allocs)
	if allocs[20] > 1.1*allocs[10] {
		t.Errorf("allocations grow with the expansion: %v at 10 levels, %v at 20", allocs[10], allocs[20])
	}
	if limit := 20.0 * walk.MaxNodes; allocs[10] > limit {
		t.Errorf("%v allocations, more than %v for %d values", allocs[10], limit, walk.MaxNodes)
	}
}

func TestFileTooLarge(t *testing.T) {
	data := make([]byte, MaxFileSize+1)
	for i := range data {
		data[i] = '#'
	}
	_, err := Parse(data, nil, "/")
	var ce *Error
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "larger than the limit") {
		t.Errorf("err = %v", err)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "idplug.yaml")
	t.Setenv("IDPLUG_TEST_SESSION_KEY", key32)
	data := doc(
		"plugin_dir: ./bin/plugins",
		`session_keys: ["${IDPLUG_TEST_SESSION_KEY}"]`,
	)
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if cfg.PluginDir != filepath.Join(dir, "bin", "plugins") {
		t.Errorf("PluginDir = %q", cfg.PluginDir)
	}
	if string(cfg.SessionKeys[0]) != key32 {
		t.Errorf("session key not taken from the environment")
	}

	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte(doc("plugin_dir: p", "session_keys: ['${IDPLUG_TEST_UNSET_VAR}']")), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(bad)
	want := bad + ":2: session_keys[0]: environment variable IDPLUG_TEST_UNSET_VAR is not set"
	if err == nil || err.Error() != want {
		t.Errorf("Load(bad) = %v, want %s", err, want)
	}

	_, err = Load(filepath.Join(dir, "missing.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want a not-exist error", err)
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
