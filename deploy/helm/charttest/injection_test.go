package charttest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// lineBreaks are what YAML reads as a line break: "\n" and "\r\n", a lone "\r",
// NEL (U+0085), LINE SEPARATOR (U+2028) and PARAGRAPH SEPARATOR (U+2029).
// Helm's nindent indents only after "\n", and toPrettyJson leaves NEL as it is.
var lineBreaks = []struct{ name, s string }{
	{"LF", "\n"}, {"CRLF", "\r\n"}, {"CR", "\r"}, {"NEL", "\u0085"}, {"LS", "\u2028"}, {"PS", "\u2029"},
}

// escape is a value that, written where a line break of br ends the line,
// writes a second idplug.yaml into the ConfigMap's data: someone else's, with
// their database and their API key, quoted with q (the chart escapes '"' in JSON
// strings), then a third key of its own to take what the chart writes after the
// value.
func escape(prefix, br, q string) string {
	config := strings.ReplaceAll(`{listen: "0.0.0.0:8080", admin_listen: "0.0.0.0:9100", plugin_dir: /plugins, `+
		`store: {url: "postgres://attacker.example/idplug"}, public_url: "http://127.0.0.1:8080", `+
		`session_keys: [attacker-session-key-0123456789abcdef0123], api_keys: [attacker-key-0123456789abcdef0123456789]}`, `"`, q)
	return prefix + br + "  idplug.yaml: |" + br + "    " + config + br + "  rest: |" + br + "    x"
}

// renderText renders values, not decoding the manifests.
func renderText(t *testing.T, values map[string]any) *rendered {
	t.Helper()
	_, manifests, err := renderManifests(t, renderOptions{}, values)
	if err != nil {
		t.Fatalf("helm template: %v", err)
	}
	return &rendered{Manifests: manifests}
}

// decodeLoose decodes a manifest as kubectl and helm install do: YAML to JSON with
// no strictness, a key given twice keeping its last value.
func decodeLoose(doc string) (map[string]any, error) {
	raw, err := yaml.YAMLToJSON([]byte(doc))
	if err != nil {
		return nil, err
	}
	var obj map[string]any
	return obj, json.Unmarshal(raw, &obj)
}

// decodeStrict decodes a manifest refusing a key given twice.
func decodeStrict(doc string) (map[string]any, error) {
	raw, err := yaml.YAMLToJSONStrict([]byte(doc))
	if err != nil {
		return nil, err
	}
	var obj map[string]any
	return obj, json.Unmarshal(raw, &obj)
}

// podConfig is the idplug.yaml the pod reads, from the rendered ConfigMap decoded
// as kubectl does; the test fails when a strict decoder reads another one, or
// when the ConfigMap holds any other file.
func podConfig(t *testing.T, r *rendered) string {
	t.Helper()
	for _, m := range r.Manifests {
		loose, err := decodeLoose(m.Content)
		if err != nil {
			t.Fatalf("%s does not decode: %v\n%s", m.Name, err, m.Content)
		}
		if loose["kind"] != "ConfigMap" {
			continue
		}
		strict, err := decodeStrict(m.Content)
		if err != nil {
			t.Errorf("a strict decoder refuses the ConfigMap: %v\n%s", err, m.Content)
		}
		var cm corev1.ConfigMap
		b, _ := json.Marshal(loose)
		must(t, json.Unmarshal(b, &cm))
		files := configMapFiles(cm)
		if len(files) != 1 || files["idplug.yaml"] == nil {
			t.Errorf("the ConfigMap holds %d files, want idplug.yaml alone:\n%s", len(files), m.Content)
		}
		if strict != nil && !reflect.DeepEqual(strict, loose) {
			t.Errorf("kubectl and a strict decoder read two ConfigMaps:\n%s", m.Content)
		}
		return string(files["idplug.yaml"])
	}
	t.Fatal("no ConfigMap")
	return ""
}

// A string of the values holding what YAML reads as a line break wrote, into
// the ConfigMap's `idplug.yaml: |` block, a line of its own: one indented as a
// key of the ConfigMap's data started a second idplug.yaml, and kubectl and
// helm install keep the last of two keys: the value replaced the whole
// configuration (the database, the API keys). toPrettyJson leaves NEL as it
// is, and configYaml is written as it is, a lone "\r" too. Whatever a value
// holds, the pod reads the configuration the values give, each value as it was
// written, or the chart refuses it.
func TestConfigValuesCannotReplaceTheConfig(t *testing.T) {
	for _, br := range lineBreaks {
		url := escape("postgres://db/idplug", br.s, "'")
		t.Run("store.url, "+br.name, func(t *testing.T) {
			text := podConfig(t, renderText(t, withSecret(map[string]any{"replicaCount": 2, "store": map[string]any{"backend": "postgres", "url": url}})))
			cfg, err := loadConfigText(t, text, nil, nil)
			if err != nil {
				t.Fatalf("idplug refuses the config the pod reads: %v\n%s", err, text)
			}
			if cfg.Store.URL != url {
				t.Errorf("the pod's store.url is %q, want %q\n%s", cfg.Store.URL, url, text)
			}
		})
		t.Run("a connector's setting, "+br.name, func(t *testing.T) {
			label := escape("Acme", br.s, "'")
			text := podConfig(t, renderText(t, withSecret(map[string]any{"config": map[string]any{
				"session_keys": []string{"${file:/etc/idplug/secrets/session-key}"},
				"api_keys":     []string{"${file:/etc/idplug/secrets/api-key}"},
				"connectors":   []map[string]any{{"id": "acme", "plugin": "oauth2", "config": map[string]any{"label": label, "clientSecret": "${file:/etc/idplug/secrets/acme}"}}},
			}})))
			cfg, err := loadConfigText(t, text, nil, nil)
			if err != nil {
				t.Fatalf("idplug refuses the config the pod reads: %v\n%s", err, text)
			}
			if len(cfg.Instances) != 1 {
				t.Fatalf("the pod's config has %d connectors, store %q, want the one of the values\n%s", len(cfg.Instances), cfg.Store.URL, text)
			}
			var got struct{ Label string }
			must(t, json.Unmarshal(cfg.Instances[0].Config, &got))
			if got.Label != label || cfg.Store.URL != "sqlite:/data/idplug.db" {
				t.Errorf("the pod's connector label is %q, store %q; want %q and the chart's SQLite\n%s", got.Label, cfg.Store.URL, label, text)
			}
		})
		t.Run("configYaml, "+br.name, func(t *testing.T) {
			// A quoted scalar may span lines: the chart's own YAML parser
			// takes the whole as public_url, and sees no key of the chart's.
			text := "session_keys: [\"${file:/etc/idplug/secrets/session-key}\"]\napi_keys: [\"${file:/etc/idplug/secrets/api-key}\"]\n" +
				"public_url: '" + escape("https://login.example.com", br.s, `"`) + "'\n"
			_, manifests, err := renderManifests(t, renderOptions{}, withSecret(map[string]any{"config": nil, "configYaml": text}))
			if err != nil {
				if !strings.Contains(err.Error(), "configYaml:") {
					t.Fatalf("refused without naming configYaml: %v", err)
				}
				return
			}
			got := podConfig(t, &rendered{Manifests: manifests})
			if cfg, err := loadConfigText(t, got, nil, nil); err == nil && cfg.Store.URL != "sqlite:/data/idplug.db" {
				t.Errorf("the pod's store is %s, not the chart's", cfg.Store.URL)
			}
			if !strings.HasPrefix(got, `listen: "0.0.0.0:8080"`) || !strings.HasSuffix(strings.TrimRight(got, "\n"), strings.TrimRight(text, "\n")) {
				t.Errorf("the pod reads another config than the chart's keys and configYaml:\n%q", got)
			}
		})
	}
}

// toPrettyJson leaves NEL, DEL, the C1 controls and U+FFFE/U+FFFF as they are,
// which YAML folds into a space (NEL, in a quoted string) or refuses (idplug
// would not start): the chart escapes them, and the plugin gets the value as it
// was given.
func TestConfigValuesKeepTheirCharacters(t *testing.T) {
	label := "a\u0085b\u007fc\u0086d\u009fe\ufffef\uffffg\u2028h\ti"
	text := podConfig(t, renderText(t, withSecret(map[string]any{"config": map[string]any{
		"session_keys": []string{"${file:/etc/idplug/secrets/session-key}"},
		"api_keys":     []string{"${file:/etc/idplug/secrets/api-key}"},
		"connectors":   []map[string]any{{"id": "acme", "plugin": "oauth2", "config": map[string]any{"label": label}}},
	}})))
	cfg, err := loadConfigText(t, text, nil, nil)
	if err != nil {
		t.Fatalf("idplug refuses the config the pod reads: %v\n%q", err, text)
	}
	var got struct{ Label string }
	must(t, json.Unmarshal(cfg.Instances[0].Config, &got))
	if got.Label != label {
		t.Errorf("the plugin's label is %q, want %q", got.Label, label)
	}
}

// scalarFields are the values the templates write as scalars of the manifests
// (not through toYaml), each with values that render it and the indentation of
// its line: a value holding a line break and then a line so indented added a
// key of the chart's object (an envFrom, a hostPath volume) where it was
// written unquoted.
var scalarFields = []struct {
	field  string
	indent int
	values func(v any) map[string]any
}{
	{"image.repository", 10, func(v any) map[string]any { return map[string]any{"image": map[string]any{"repository": v}} }},
	{"image.tag", 10, func(v any) map[string]any { return map[string]any{"image": map[string]any{"tag": v}} }},
	{"image.digest", 10, func(v any) map[string]any { return map[string]any{"image": map[string]any{"digest": v}} }},
	{"image.pullPolicy", 10, func(v any) map[string]any { return map[string]any{"image": map[string]any{"pullPolicy": v}} }},
	{"service.type", 2, func(v any) map[string]any { return map[string]any{"service": map[string]any{"type": v}} }},
	{"service.port", 6, func(v any) map[string]any { return map[string]any{"service": map[string]any{"port": v}} }},
	{"persistence.size", 6, func(v any) map[string]any { return map[string]any{"persistence": map[string]any{"size": v}} }},
	{"persistence.storageClass", 2, func(v any) map[string]any { return map[string]any{"persistence": map[string]any{"storageClass": v}} }},
	{"persistence.existingClaim", 12, func(v any) map[string]any {
		return map[string]any{"persistence": map[string]any{"existingClaim": v}}
	}},
	{"secrets.existingSecret", 12, func(v any) map[string]any { return map[string]any{"secrets": map[string]any{"existingSecret": v}} }},
	{"serviceMonitor.interval", 6, func(v any) map[string]any {
		return map[string]any{"serviceMonitor": map[string]any{"enabled": true, "interval": v}}
	}},
	{"serviceMonitor.scrapeTimeout", 6, func(v any) map[string]any {
		return map[string]any{"serviceMonitor": map[string]any{"enabled": true, "scrapeTimeout": v}}
	}},
	{"store.timeout", 6, func(v any) map[string]any { return map[string]any{"store": map[string]any{"timeout": v}} }},
	{"replicaCount", 2, func(v any) map[string]any { return map[string]any{"replicaCount": v} }},
	{"terminationGracePeriodSeconds", 6, func(v any) map[string]any { return map[string]any{"terminationGracePeriodSeconds": v} }},
	{"preStopSleepSeconds", 16, func(v any) map[string]any { return map[string]any{"preStopSleepSeconds": v} }},
	{"ports.http", 14, func(v any) map[string]any { return map[string]any{"ports": map[string]any{"http": v}} }},
	{"autoscaling.minReplicas", 2, func(v any) map[string]any { return autoscaled(map[string]any{"minReplicas": v}) }},
	{"autoscaling.maxReplicas", 2, func(v any) map[string]any { return autoscaled(map[string]any{"maxReplicas": v}) }},
	{"autoscaling.targetCPUUtilizationPercentage", 10, func(v any) map[string]any {
		return autoscaled(map[string]any{"targetCPUUtilizationPercentage": v})
	}},
	{"migrate.jobTTLSecondsAfterFinished", 2, func(v any) map[string]any {
		return map[string]any{"store": postgres, "migrate": map[string]any{"mode": "job", "jobTTLSecondsAfterFinished": v}}
	}},
	{"podDisruptionBudget.minAvailable", 2, func(v any) map[string]any {
		return map[string]any{"store": postgres, "replicaCount": 3, "podDisruptionBudget": map[string]any{"enabled": true, "minAvailable": v}}
	}},
	{"podDisruptionBudget.maxUnavailable", 2, func(v any) map[string]any {
		return map[string]any{"store": postgres, "replicaCount": 3, "podDisruptionBudget": map[string]any{"enabled": true, "maxUnavailable": v}}
	}},
}

func autoscaled(a map[string]any) map[string]any {
	a["enabled"] = true
	return map[string]any{"store": postgres, "autoscaling": a, "resources": map[string]any{"requests": map[string]any{"cpu": "100m"}}}
}

// A value the templates wrote unquoted ended its line at a line break, and the
// next line was YAML of the value's choosing: a key of its own in the
// Deployment, the Service or the ServiceMonitor. Each such value is now quoted
// (the manifests read back the string as given) or, where a number belongs,
// refused unless it is one.
func TestScalarsCannotAddKeys(t *testing.T) {
	for _, f := range scalarFields {
		for _, br := range lineBreaks {
			t.Run(f.field+", "+br.name, func(t *testing.T) {
				value := "1" + br.s + strings.Repeat(" ", f.indent) + "injected: true"
				values := f.values(value)
				if values["secrets"] == nil {
					withSecret(values)
				}
				_, manifests, err := renderManifests(t, renderOptions{}, values)
				if err != nil {
					if !strings.Contains(err.Error(), f.field) {
						t.Fatalf("refused without naming %s: %v", f.field, err)
					}
					return
				}
				found := false
				for _, m := range manifests {
					loose, err := decodeLoose(m.Content)
					if err != nil {
						t.Fatalf("%s does not decode: %v\n%s", m.Name, err, m.Content)
					}
					strict, err := decodeStrict(m.Content)
					if err != nil {
						t.Errorf("%s: a strict decoder refuses it: %v\n%s", m.Name, err, m.Content)
					} else if !reflect.DeepEqual(strict, loose) {
						t.Errorf("%s: kubectl and a strict decoder read two objects", m.Name)
					}
					if path := findKey(loose, "injected", ""); path != "" {
						t.Errorf("%s: the value added the key %s:\n%s", m.Name, path, m.Content)
					}
					found = found || holdsString(loose, value)
				}
				if !found {
					t.Errorf("no manifest holds the value %q as a string", value)
				}
			})
		}
	}
}

// findKey is the path of the first mapping key named key in v, or "".
func findKey(v any, key, path string) string {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if k == key {
				return path + "." + k
			}
			if p := findKey(e, key, path+"."+k); p != "" {
				return p
			}
		}
	case []any:
		for i, e := range v {
			if p := findKey(e, key, fmt.Sprintf("%s[%d]", path, i)); p != "" {
				return p
			}
		}
	}
	return ""
}

// holdsString reports whether a string of v (or the idplug.yaml of a ConfigMap
// as binaryData) holds s.
func holdsString(v any, s string) bool {
	switch v := v.(type) {
	case map[string]any:
		if bd, ok := v["binaryData"].(map[string]any); ok {
			var cm corev1.ConfigMap
			b, _ := json.Marshal(map[string]any{"binaryData": bd})
			if json.Unmarshal(b, &cm) == nil && bytes.Contains(cm.BinaryData["idplug.yaml"], []byte(jsonText(s))) {
				return true
			}
		}
		for _, e := range v {
			if holdsString(e, s) {
				return true
			}
		}
	case []any:
		for _, e := range v {
			if holdsString(e, s) {
				return true
			}
		}
	case string:
		return strings.Contains(v, s) || strings.Contains(v, jsonText(s))
	}
	return false
}

// jsonText is s as the chart writes it inside idplug.yaml: a JSON string's text
// without its quotes, line breaks and controls escaped.
func jsonText(s string) string {
	b, _ := json.Marshal(s)
	t := string(b[1 : len(b)-1])
	return strings.ReplaceAll(t, "\u0085", `\u0085`)
}
