package main

import (
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/idplug/idplug/internal/plugintest"
)

// idplug plugins shows the hosts a plugin declares it reaches beyond its
// configurations (what sandbox.egress_allow narrows), in JSON and in text.
func TestPluginsListsDeclaredEgressHosts(t *testing.T) {
	dir := pluginFolder(t, "github", "example")
	bin := plugintest.Binary(t, "./host/cmd/idplug")
	out, err := exec.Command(bin, "plugins", "--plugin-dir", dir, "--json").Output()
	if err != nil {
		t.Fatalf("idplug plugins --json: %v\n%s", err, out)
	}
	var listing struct {
		Plugins []struct {
			ID          string
			EgressHosts []string
		}
	}
	if err := json.Unmarshal(out, &listing); err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, p := range listing.Plugins {
		got[p.ID] = p.EgressHosts
	}
	if !slices.Equal(got["github"], []string{"github.com:443", "api.github.com:443"}) || got["example"] != nil {
		t.Errorf("egress hosts %v", got)
	}
	text, err := exec.Command(bin, "plugins", "--plugin-dir", dir).Output()
	if err != nil {
		t.Fatalf("idplug plugins: %v\n%s", err, text)
	}
	if !strings.Contains(string(text), "sandbox.egress_allow narrows them") || !strings.Contains(string(text), "  github: github.com:443, api.github.com:443") {
		t.Errorf("text listing:\n%s", text)
	}
}
