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
	"syscall"
	"testing"
	"time"

	"github.com/idplug/idplug/host/apikey"
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

// A configuration path that is not a regular file is refused before it is
// opened: a FIFO put in the file's place had hung the reload that read it, and
// with it every later reload and the stop.
func TestLoadRefusesWhatIsNotAFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "idplug.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.yaml")
	if err := os.Symlink(fifo, link); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{fifo, link, dir, "/dev/zero"} {
		done := make(chan error, 1)
		go func() { _, err := Load(path); done <- err }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), path+" is not a regular file") {
				t.Errorf("Load(%s) = %v, want it refused as not a regular file", path, err)
			}
		case <-time.After(10 * time.Second):
			// The FIFO's open waits for a writer: be one, so that it ends.
			if w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				w.Close()
			}
			t.Fatalf("Load(%s) did not return", path)
		}
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

// A key listed twice (a rotation whose new key is the old one pasted again)
// rotates nothing, and would say so only once the old key is dropped: it is
// refused, by position, never by value.
func TestRepeatedKeysRefused(t *testing.T) {
	key := strings.Repeat("k", 40)
	vault := strings.Repeat("v", 40)
	got := strings.Join(problemsOf(t, doc(
		"plugin_dir: /tmp",
		`session_keys: ["`+key+`", "`+strings.Repeat("n", 40)+`", "`+key+`"]`,
		`vault_keys: ["`+vault+`", "`+vault+`"]`,
	), nil), "\n")
	for _, want := range []string{
		"session_keys[2]: is the same key as session_keys[0]: to rotate, put a new key first and the old one after it",
		"vault_keys[1]: is the same key as vault_keys[0]",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("no problem %q in:\n%s", want, got)
		}
	}
	if strings.Contains(got, key) || strings.Contains(got, vault) {
		t.Errorf("a problem repeats a key:\n%s", got)
	}
}
