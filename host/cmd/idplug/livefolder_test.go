package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The plugin of configured connectors removed from the live folder shows on
// /readyz and /metrics: /readyz had said only that idplug was not ready (its
// plugins and refused files both empty), and the plugin's state series had
// gone, so an alert on idplug_plugin_state saw nothing.
func TestARemovedPluginShowsOnReadinessAndMetrics(t *testing.T) {
	dir := pluginFolder(t, "example")
	p := startIdplug(t, dir, exampleConfig)
	if err := os.Remove(filepath.Join(dir, "idplug-connector-example")); err != nil {
		t.Fatal(err)
	}
	p.waitLog(t, "plugin file removed")

	resp, body := get(t, p.URL+"/readyz")
	mustEqual(t, "/readyz status", resp.StatusCode, http.StatusServiceUnavailable)
	var ready map[string]any
	if err := json.Unmarshal(body, &ready); err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "missingPlugins", ready["missingPlugins"], []any{"example"})

	m, err := http.Get(p.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(m.Body)
	m.Body.Close()
	const want = `idplug_plugin_state{plugin="example",state="stopped"} 1`
	if !strings.Contains(string(text), want) {
		t.Errorf("/metrics lacks %s:\n%s", want, grepMetric(string(text), "idplug_plugin_"))
	}
}

func grepMetric(text, prefix string) string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, prefix) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
