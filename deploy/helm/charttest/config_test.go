package charttest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/idplug/idplug/host/apikey"
	"github.com/idplug/idplug/host/config"
	"helm.sh/helm/v3/pkg/chartutil"
)

// secretRef is a ${file:...} reference to the chart's secrets folder.
var secretRef = regexp.MustCompile(`\$\{file:/etc/idplug/secrets/([^}]+)\}`)

// loadConfig runs idplug's own loader on the rendered idplug.yaml, as the pod
// would: each ${file:/etc/idplug/secrets/NAME} reads NAME from files (or a
// 40-byte value when files has none), ${VAR} reads env.
func loadConfig(t *testing.T, r *rendered, files, env map[string]string) (*config.Config, error) {
	t.Helper()
	return loadConfigText(t, configFile(r), files, env)
}

// loadConfigText is loadConfig on idplug.yaml's text.
func loadConfigText(t *testing.T, data string, files, env map[string]string) (*config.Config, error) {
	t.Helper()
	dir := t.TempDir()
	for _, m := range secretRef.FindAllStringSubmatch(data, -1) {
		v, ok := files[m[1]]
		if !ok {
			v = "value-of-" + m[1] + "-" + strings.Repeat("x", 40)
		}
		must(t, os.WriteFile(filepath.Join(dir, m[1]), []byte(v), 0o600))
	}
	data = strings.ReplaceAll(data, "${file:/etc/idplug/secrets/", "${file:"+dir+"/")
	return config.Parse([]byte(data), func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}, "/etc/idplug")
}

// Every value set's config is one idplug's loader accepts, with what the chart
// owns: the listen addresses, the plugin folder and the store.
func TestConfigLoadsInIdplug(t *testing.T) {
	sets := valueSets()
	sets["configYaml"] = withSecret(map[string]any{
		"config":     nil,
		"configYaml": "public_url: https://login.example.com\nsession_keys: [\"${file:/etc/idplug/secrets/session-key}\"]\napi_keys:\n  - ${file:/etc/idplug/secrets/api-key}\n",
	})
	for name, values := range sets {
		t.Run(name, func(t *testing.T) {
			r := mustRender(t, values)
			cfg, err := loadConfig(t, r, map[string]string{"store-url": "postgres://idplug@db:5432/idplug"}, nil)
			if err != nil {
				t.Fatalf("idplug refuses the rendered config: %v\n%s", err, configFile(r))
			}
			if cfg.Listen != "0.0.0.0:8080" || cfg.AdminListen != "0.0.0.0:9100" || cfg.PluginDir != "/plugins" ||
				len(cfg.APIKeys) == 0 || len(cfg.SessionKeys) == 0 || cfg.Store.URL == "" {
				t.Errorf("listen %q, admin_listen %q, plugin_dir %q, %d API keys, %d session keys, store %q",
					cfg.Listen, cfg.AdminListen, cfg.PluginDir, len(cfg.APIKeys), len(cfg.SessionKeys), cfg.Store.URL)
			}
		})
	}
}

// idplug types a plain scalar again after replacing its references
// (host/config/interpolate.go: "port: ${PORT} gives the plugin a number; a quoted
// scalar always stays a string"). A string in values ("${FB_APP_ID}", a client
// secret file of digits) must reach the plugin as a string, as it does from an
// idplug.yaml written by hand, not as a JSON number (16 digits: past what Node's
// numbers hold).
func TestConfigReferencesStayStrings(t *testing.T) {
	r := mustRender(t, withSecret(map[string]any{
		"config": map[string]any{
			"session_keys": []string{"${file:/etc/idplug/secrets/session-key}"},
			"api_keys":     []string{"${file:/etc/idplug/secrets/api-key}"},
			"connectors": []map[string]any{{"id": "facebook", "plugin": "logto-facebook",
				"config": map[string]any{"clientId": "${FB_APP_ID}", "clientSecret": "${file:/etc/idplug/secrets/fb}",
					"enabled": true, "retries": 3, "label": "123"}}},
		},
	}))
	cfg, err := loadConfig(t, r, map[string]string{"fb": "1234567890123456"}, map[string]string{"FB_APP_ID": "9876543210987654"})
	if err != nil {
		t.Fatalf("%v\n%s", err, configFile(r))
	}
	want := `{"clientId":"9876543210987654","clientSecret":"1234567890123456","enabled":true,"label":"123","retries":3}`
	if got := compactJSON(t, cfg.Instances[0].Config); got != want {
		t.Errorf("the plugin's config is %s, want %s\nidplug.yaml:\n%s", got, want, configFile(r))
	}
}

// Helm's values hold numbers as float64: an 18-digit client id (Discord's are)
// written as a number in a values file comes out rounded. The chart refuses it
// (naming the value and the ways out), keeps a quoted one a string, and
// configYaml keeps every digit of a number.
func TestConfigNumbersKeepTheirDigits(t *testing.T) {
	const connector = `
    - id: discord
      plugin: logto-discord
      config: {clientId: %s, clientSecret: "${file:/etc/idplug/secrets/discord}"}`
	valuesFile := func(clientID string) map[string]any {
		vals, err := chartutil.ReadValues([]byte(fmt.Sprintf(`
secrets: {existingSecret: s}
config:
  connectors:`+connector+"\n", clientID)))
		must(t, err)
		return vals.AsMap()
	}

	refused(t, valuesFile("123456789012345678"),
		"config.connectors[0].config.clientId: 1.2345678901234568e+17 has more digits than Helm's values keep")

	for name, values := range map[string]map[string]any{
		"quoted in config": valuesFile(`"123456789012345678"`),
		"configYaml": withSecret(map[string]any{"config": nil, "configYaml": fmt.Sprintf(`
# idplug.yaml as the operator wrote it
public_url: https://login.example.com
session_keys: ["${file:/etc/idplug/secrets/session-key}"]
api_keys: ["${file:/etc/idplug/secrets/api-key}"]
connectors:`+connector+"\n", "123456789012345678")}),
	} {
		t.Run(name, func(t *testing.T) {
			r := mustRender(t, values)
			cfg, err := loadConfig(t, r, nil, nil)
			if err != nil {
				t.Fatalf("%v\n%s", err, configFile(r))
			}
			want := map[string]string{"quoted in config": `"123456789012345678"`, "configYaml": `123456789012345678`}[name]
			dec := json.NewDecoder(strings.NewReader(string(cfg.Instances[0].Config)))
			dec.UseNumber()
			var raw map[string]any
			must(t, dec.Decode(&raw))
			if b, _ := json.Marshal(raw["clientId"]); string(b) != want {
				t.Errorf("clientId reaches the plugin as %s, want %s\nidplug.yaml:\n%s", b, want, configFile(r))
			}
		})
	}
}

// configYaml is written as it is, after the chart's own keys; config and
// configYaml together, or a configYaml the chart cannot put after its keys, are
// refused.
func TestConfigYaml(t *testing.T) {
	text := "# comment kept\npublic_url: https://login.example.com\nsession_keys: [\"${file:/etc/idplug/secrets/session-key}\"]\napi_keys: [\"${file:/etc/idplug/secrets/api-key}\"]\n"
	r := mustRender(t, withSecret(map[string]any{"config": nil, "configYaml": text}))
	// (render's split of the manifest on "\n---" takes the last line's newline.)
	if data := configFile(r); !strings.HasSuffix(strings.TrimSuffix(data, "\n"), "\n"+strings.TrimSuffix(text, "\n")) ||
		!strings.HasPrefix(data, `listen: "0.0.0.0:8080"`) {
		t.Errorf("configYaml is not written as it is after the chart's keys:\n%s", data)
	}
	for name, tc := range map[string]struct {
		values map[string]any
		want   string
	}{
		"config and configYaml": {map[string]any{"configYaml": text}, "config and configYaml: set one of them; with configYaml, also set config: null"},
		"neither":               {map[string]any{"config": nil}, "config: empty; set config (or configYaml)"},
		"not YAML":              {map[string]any{"config": nil, "configYaml": "a: [b\n"}, "configYaml: not a YAML mapping"},
		"a list":                {map[string]any{"config": nil, "configYaml": "- a\n"}, "configYaml: not a YAML mapping"},
		"a flow mapping":        {map[string]any{"config": nil, "configYaml": "{api_keys: [x]}"}, "configYaml: write a block mapping starting at column 0"},
		"indented":              {map[string]any{"config": nil, "configYaml": "  api_keys: [x]\n"}, "configYaml: write a block mapping starting at column 0"},
		"a document marker":     {map[string]any{"config": nil, "configYaml": "---\napi_keys: [x]\n"}, "configYaml: one document"},
		"listen in configYaml":  {map[string]any{"config": nil, "configYaml": "api_keys: [x]\nlisten: 127.0.0.1:1\n"}, "configYaml.listen: set by the chart"},
	} {
		t.Run(name, func(t *testing.T) { refused(t, withSecret(tc.values), tc.want) })
	}
}

// The chart's listen is 0.0.0.0, where idplug requires api_keys ("api_keys: is
// required when listen (0.0.0.0:8080) is not a loopback address"): a config
// without them would start a pod that exits at once, in a crash loop, so the
// chart refuses it, saying what to set. values.yaml's config reads the key from
// the api-key secret file.
func TestAPIKeysRequired(t *testing.T) {
	refused(t, withSecret(map[string]any{"config": map[string]any{"api_keys": nil}}),
		`config.api_keys: required: idplug listens on 0.0.0.0 in the pod and refuses to start without API keys; set config.api_keys, for example [{key: "${file:/etc/idplug/secrets/api-key}", scopes: [signin]}]`)
	refused(t, withSecret(map[string]any{"config": map[string]any{"api_keys": []any{}}}), "config.api_keys: required")
	refused(t, withSecret(map[string]any{"config": nil, "configYaml": "public_url: https://login.example.com\n"}), "configYaml.api_keys: required")

	cfg, err := loadConfig(t, mustRender(t, withSecret(map[string]any{})), nil, nil)
	if err != nil || len(cfg.APIKeys) != 1 {
		t.Errorf("the default config: %v, %d API keys", err, len(cfg.APIKeys))
	}
}

func compactJSON(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var v any
	must(t, json.Unmarshal(raw, &v))
	b, err := json.Marshal(v)
	must(t, err)
	return string(b)
}

// The chart's default key is scoped: a plain string there drew idplug's warning
// at every start and would lose every scope in the next release.
func TestDefaultKeyIsScoped(t *testing.T) {
	cfg, err := loadConfig(t, mustRender(t, withSecret(map[string]any{})), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := cfg.PlainAPIKeys(); n != 0 || len(cfg.APIKeys) != 1 || fmt.Sprint(cfg.APIKeys[0].Scopes) != "[signin]" {
		var scopes [][]apikey.Scope
		for _, k := range cfg.APIKeys {
			scopes = append(scopes, k.Scopes)
		}
		t.Fatalf("default api_keys: %d plain, %d keys, scopes %v", n, len(cfg.APIKeys), scopes)
	}
}
