package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/idplug/idplug/internal/plugintest"
)

// bundledFolder builds a plugin folder as `make build` does (scripts/build-plugins):
// the native oauth2 and github plugins, and the Logto bridge with its bundle.
func bundledFolder(t *testing.T) string {
	t.Helper()
	root, err := plugintest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := plugintest.Folder(t)
	cmd := exec.Command("scripts/build-plugins", dir, "oauth2", "github", "logto")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/build-plugins: %v\n%s", err, out)
	}
	return dir
}

// runPlugins runs the real `idplug plugins` and returns its stdout, stderr and exit code.
func runPlugins(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(plugintest.Binary(t, "./host/cmd/idplug"), append([]string{"plugins"}, args...)...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

func TestPluginsCommand(t *testing.T) {
	dir := bundledFolder(t)

	t.Run("the listing tells a Logto connector from a native one and shows no running state", func(t *testing.T) {
		out, stderr, code := runPlugins(t, "--plugin-dir", dir, "--json")
		mustEqual(t, "exit code ("+stderr+")", code, 0)
		var listing struct {
			Plugins []map[string]any `json:"plugins"`
			Ignored []map[string]any `json:"ignored"`
			Support []map[string]any `json:"support"`
		}
		if err := json.Unmarshal([]byte(out), &listing); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, out)
		}
		byID := map[string]map[string]any{}
		for _, p := range listing.Plugins {
			byID[p["id"].(string)] = p
			if _, ok := p["state"]; ok {
				t.Errorf("plugin %s has a state in a listing: %v", p["id"], p)
			}
		}
		native, bridged := byID["github"], byID["logto-github-universal"]
		if native == nil || bridged == nil {
			t.Fatalf("want both GitHub plugins, got %v", mapsKeys(byID))
		}
		mustEqual(t, "both named alike", jsonPath(native, "name", "en"), jsonPath(bridged, "name", "en"))
		mustEqual(t, "native kind", native["kind"], "native")
		mustEqual(t, "bridged kind", bridged["kind"], "bridge")
		mustEqual(t, "bridge", bridged["bridge"], "logto")
		for _, e := range listing.Ignored {
			if strings.HasPrefix(e["file"].(string), "logto-bundle") {
				t.Errorf("the bundle is reported as ignored: %v", e)
			}
		}
		var support []string
		for _, e := range listing.Support {
			support = append(support, e["file"].(string))
		}
		mustEqual(t, "support", support, []string{"logto-bundle", "logto-bundle.sha256"})

		text, _, code := runPlugins(t, "--plugin-dir", dir)
		mustEqual(t, "exit code", code, 0)
		for _, unwanted := range []string{"STATE", "running", "Ignored"} {
			if strings.Contains(text, unwanted) {
				t.Errorf("the listing says %q:\n%s", unwanted, text)
			}
		}
		if !strings.Contains(text, "logto bridge") || !strings.Contains(text, "native") {
			t.Errorf("the listing does not say which plugin is which:\n%s", text)
		}
	})

	t.Run("--plugin shows config fields and readme", func(t *testing.T) {
		out, stderr, code := runPlugins(t, "--plugin-dir", dir, "--plugin", "logto-github-universal")
		mustEqual(t, "exit code ("+stderr+")", code, 0)
		for _, want := range []string{"Kind:", "logto bridge", "Config fields:", "clientId", "clientSecret", "(secret)", "Readme:", "GitHub"} {
			if !strings.Contains(out, want) {
				t.Errorf("--plugin lacks %q:\n%s", want, out)
			}
		}
		out, _, code = runPlugins(t, "--plugin-dir", dir, "--plugin", "oauth2", "--json")
		mustEqual(t, "exit code", code, 0)
		var d map[string]any
		if err := json.Unmarshal([]byte(out), &d); err != nil {
			t.Fatal(err)
		}
		if items, _ := d["formItems"].([]any); len(items) == 0 || d["readme"] == "" || d["kind"] != "native" {
			t.Errorf("--plugin oauth2 --json: %v", d)
		}
		_, stderr, code = runPlugins(t, "--plugin-dir", dir, "--plugin", "nope")
		if code != 1 || !strings.Contains(stderr, `no plugin with id "nope"`) || !strings.Contains(stderr, "oauth2") {
			t.Errorf("unknown id: exit %d, %q", code, stderr)
		}
	})
}

func mapsKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

const onDemandConfig = `
listen: 127.0.0.1:0
public_url: http://127.0.0.1:1
plugin_dir: PLUGIN_DIR
session_keys: ["${IDPLUG_SESSION_KEY}"]
api_keys: ["k1-0123456789abcdef0123456789abcdef"]
log_format: json
connectors:
CONNECTORS`

const (
	exampleConnector = `
  - id: demo
    plugin: example
    config: {authorizationEndpoint: "https://id.example.test/authorize", clientId: demo-client}`
	githubConnector = `
  - id: gh
    plugin: github
    config: {clientId: gh-client, clientSecret: gh-secret}`
)

// running lists the ids and pids of the plugins /readyz says run.
func running(t *testing.T, p *idplugProc) map[string]int {
	t.Helper()
	_, body := p.call(t, "GET", "/readyz", "", nil)
	out := map[string]int{}
	list, _ := body["plugins"].([]any)
	for i := range list {
		out[jsonPath(list, i, "id").(string)] = int(jsonPath(list, i, "pid").(float64))
	}
	return out
}

// TestPluginsRunOnlyWhileAConnectorNeedsThem: of three plugins in the folder,
// only those of configured connectors run; a reload starts the plugin a new
// connector needs and stops the one no connector needs any more, and the
// catalog of every plugin stays whole.
func TestPluginsRunOnlyWhileAConnectorNeedsThem(t *testing.T) {
	dir := pluginFolder(t, "example", "oauth2", "github")
	cfg := func(connectors ...string) string {
		return strings.Replace(onDemandConfig, "CONNECTORS", strings.Join(connectors, ""), 1)
	}
	p := startIdplug(t, dir, cfg(exampleConnector))
	first := running(t, p)
	if len(first) != 1 || first["example"] == 0 {
		t.Fatalf("running plugins: %v; want only example", first)
	}
	_, auth := p.call(t, "POST", "/v1/connectors/demo/authorization-uri", adminKey, map[string]any{"redirectUri": "https://app.test/cb"})
	if !strings.HasPrefix(jsonPath(auth, "redirectTo").(string), "https://id.example.test/authorize?") {
		t.Fatalf("sign-in through the running plugin: %v", auth)
	}

	p.rewrite(t, dir, cfg(githubConnector))
	status, body := p.call(t, "POST", "/v1/admin/reload", adminKey, nil)
	mustEqual(t, "reload ("+jsonString(body)+")", status, 200)
	now := running(t, p)
	if len(now) != 1 || now["github"] == 0 {
		t.Fatalf("running plugins after the reload: %v; want only github", now)
	}
	// The example plugin's process goes (drained in the background), not just
	// out of the list.
	waitFor(t, func() bool {
		_, err := os.Stat(fmt.Sprintf("/proc/%d", first["example"]))
		return errors.Is(err, fs.ErrNotExist)
	}, "the example plugin (pid %d) to exit once no connector needs it", first["example"])
	status, body = p.call(t, "GET", "/v1/connectors/gh", adminKey, nil)
	mustEqual(t, "describe", status, 200)
	if items, _ := body["formItems"].([]any); len(items) == 0 || body["readme"] == "" {
		t.Errorf("the description lacks the plugin's metadata: %v", body)
	}

	// A connector on a plugin that only had its metadata read starts it.
	p.rewrite(t, dir, cfg(githubConnector, exampleConnector))
	status, _ = p.call(t, "POST", "/v1/admin/reload", adminKey, nil)
	mustEqual(t, "reload", status, 200)
	if now := running(t, p); len(now) != 2 || now["example"] == 0 || now["github"] == 0 {
		t.Fatalf("running plugins: %v; want example and github", now)
	}

	// A connector naming a plugin of the folder that is not running is still
	// checked by it: a bad config is refused with the plugin's field error.
	p.rewrite(t, dir, cfg(githubConnector, `
  - id: generic
    plugin: oauth2
    config: {clientId: x}`))
	status, body = p.call(t, "POST", "/v1/admin/reload", adminKey, nil)
	if status != 400 || !strings.Contains(jsonString(body), "generic") {
		t.Fatalf("reload with a bad oauth2 config: %d %v", status, body)
	}
	if now := running(t, p); now["oauth2"] != 0 {
		t.Errorf("the plugin that checked a refused config keeps running: %v", now)
	}
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
