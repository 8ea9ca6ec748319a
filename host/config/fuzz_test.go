package config

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

var fuzzSeeds = []string{
	"",
	"listen: 127.0.0.1:8080\nplugin_dir: ./bin/plugins\nsession_keys: [\"${KEY}\"]\n",
	`listen: 0.0.0.0:8080
public_url: https://id.example.com/
plugin_dir: /opt/plugins
session_keys: ["${KEY}", "` + key40 + `"]
api_keys: ["${API_KEY:-dev-key}"]
call_timeout: 10s
log_level: debug
log_format: json
session_ttl: 10m
connectors:
  - &acme
    id: acme
    plugin: oauth2
    target: acme
    name: {en: Acme}
    logo: https://acme.example/logo.png
    config:
      clientId: abc
      port: ${NUM}
      nasty: ${NASTY}
      big: 123456789012345678901234567890
      f: 1.50
      <<: {scope: openid}
  - <<: *acme
    id: acme-2
    target: acme-2
`,
	"plugin_dir: p\nsession_keys: [" + key32 + "]\nconnectors:\n  - id: a\n    plugin: b\n    config: &c\n      self: *c\n",
	"plugin_dir: p\nsession_keys: [" + key32 + "]\nconnectors:\n  - id: a\n    plugin: b\n    config:\n      a: &a [x, x, x]\n      b: &b [*a, *a, *a]\n      c: [*b, *b, *b]\n",
	"a: &a {<<: *a}\n",
	"? [a]\n: b\n",
	"- a\n- b\n",
	"listen: [\n",
	"session_keys: [${KEY}]\n",
	"log_level: ${\n",
	"log_level: $${X} $$ $ ${A:-b}\n",
	"---\na: 1\n---\nb: 2\n",
	"connectors: {a: b}\n",
	"connectors:\n  - 1\n  - [x]\n  - {id: Bad, config: 3}\n",
	"plugin_dir: !!binary aGVsbG8=\nsession_keys: !!str x\n",
	"connectors:\n  - id: a\n    plugin: b\n    config: {n: .nan, i: .inf, t: 2001-12-14, x: !!int abc}\n",
	"\t",
	"a: b: c",
	"%YAML 1.1\n---\na: 1\n",
}

// FuzzParse checks that Parse never panics and that it returns either a
// Config that holds its promises or an *Error with at least one problem.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	env := envOf(map[string]string{"KEY": key32, "NASTY": "a: [b, {c", "NUM": "12", "EMPTY": ""})
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data, env, "/base")
		if (cfg == nil) == (err == nil) {
			t.Fatalf("Parse returned config %v and error %v", cfg, err)
		}
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) || len(ce.Problems) == 0 {
				t.Fatalf("error %T is not a *config.Error with problems: %v", err, err)
			}
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if len(cfg.SessionKeys) == 0 {
			t.Fatal("config without session keys")
		}
		for _, k := range cfg.SessionKeys {
			if len(k) < MinSessionKeyLen {
				t.Fatalf("session key of %d bytes accepted", len(k))
			}
		}
		if cfg.CallTimeout <= 0 || cfg.CallTimeout > MaxCallTimeout || cfg.SessionTTL <= 0 || cfg.SessionTTL > MaxSessionTTL {
			t.Fatalf("durations out of range: %v %v", cfg.CallTimeout, cfg.SessionTTL)
		}
		if cfg.PluginDir == "" || cfg.PublicURL == "" || strings.HasSuffix(cfg.PublicURL, "/") {
			t.Fatalf("plugin_dir %q, public_url %q", cfg.PluginDir, cfg.PublicURL)
		}
		ids := map[string]bool{}
		for _, c := range cfg.Instances {
			if !connectorIDRE.MatchString(c.ID) || ids[c.ID] || c.Plugin == "" {
				t.Fatalf("bad connector accepted: %+v", c)
			}
			ids[c.ID] = true
			var obj map[string]any
			if err := json.Unmarshal(c.Config, &obj); err != nil || obj == nil {
				t.Fatalf("connector %s config is not a JSON object: %s (%v)", c.ID, c.Config, err)
			}
		}
	})
}
