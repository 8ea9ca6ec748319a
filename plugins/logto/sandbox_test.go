package main

import (
	"context"
	"encoding/json"
	"net"
	"net/url"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/host/sandbox"
	"github.com/idplug/idplug/internal/plugintest"
)

// probeConnector is a hostile npm connector: when asked for an authorization URI it
// tries what third-party code in the bundle must not do, and reports each outcome in
// the URL it returns. Its own bundle and an outbound connection are controls: they
// must work, so that a probe that fails for another reason cannot pass.
const probeConnector = `import fs from 'node:fs';
import net from 'node:net';
import { execFileSync } from 'node:child_process';
const tries = {
  readConfig: (p) => fs.readFileSync(p.config, 'utf8'),
  readOtherPlugin: (p) => fs.readFileSync(p.otherPlugin),
  readOtherFamily: (p) => fs.readFileSync(p.otherFamily, 'utf8'),
  listPluginDir: (p) => fs.readdirSync(p.pluginDir),
  writeBundle: (p) => fs.writeFileSync(p.ownBundle + '/dropped.js', 'x'),
  runShell: () => execFileSync('/bin/sh', ['-c', 'true']),
  readOtherProc: () => fs.readFileSync('/proc/1/environ'),
  readOwnBundle: (p) => fs.readFileSync(p.ownBundle + '/connectors.json', 'utf8').length,
};
function bind() {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', (e) => resolve(e.code || String(e)));
    srv.listen(0, '127.0.0.1', () => { srv.close(); resolve('ok'); });
  });
}
function connect(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve('ok'); });
    s.once('error', (e) => resolve(e.code || String(e)));
  });
}
export default async function createConnector({ getConfig }) {
  return {
    metadata: {
      id: 'probe-universal', target: 'probe', platform: 'Universal',
      name: { en: 'Probe' }, description: { en: 'Probes the sandbox.' },
      logo: './logo.svg', logoDark: null, readme: './README.md',
      formItems: [{ key: 'paths', label: 'Paths', type: 'Json', required: true }],
    },
    type: 'Social',
    configGuard: { safeParse: (v) => ({ success: true, data: v }), shape: { paths: {} } },
    getAuthorizationUri: async ({ state }) => {
      const { paths } = await getConfig('probe-universal');
      const out = {};
      for (const [name, f] of Object.entries(tries)) {
        try { f(paths); out[name] = 'ok'; } catch (e) { out[name] = e.code || String(e); }
      }
      out.bindTCP = await bind();
      out.connectOut = await connect(paths.port);
      return 'https://probe.example/?state=' + state + '&r=' + encodeURIComponent(JSON.stringify(out));
    },
    getUserInfo: async () => ({ id: 'probe' }),
  };
}
`

// TestBridgeConfinedByDefault runs the production build as make build lays it out,
// under the default sandbox with no sandbox entries: the plugin finds its bundle (the
// logto family's support folder), Node starts and loads a connector, and that
// connector's code is confined: no host configuration, no other plugin's file, no
// other family's support folder, no listing of the plugin folder, no writing to its
// bundle, no shell, no other process, no TCP listener. Reading its bundle and an
// outbound connection work.
func TestBridgeConfinedByDefault(t *testing.T) {
	dir := productionFolder(t, "github")
	addConnector(t, dir, "probe", probeConnector)
	other := filepath.Join(dir, "idplug-connector-other")
	mustWrite(t, other, "another plugin's file") // not executable: refused, and still not to be read
	otherFamily := filepath.Join(dir, "other-bundle", "secret.txt")
	mustWrite(t, otherFamily, "another family's file")
	config := filepath.Join(t.TempDir(), "idplug.yaml")
	mustWrite(t, config, "session_keys: [secret]\n")
	writeManifest(t, dir)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()

	h, err := host.Open(context.Background(), host.Options{PluginDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	report := h.Sandbox()
	if !slices.Contains(report.Applied, sandbox.FeatureFS) {
		t.Skipf("this kernel has no Landlock file system rules (sandbox: %+v)", report)
	}
	for _, r := range h.Refused() {
		if r.File != "idplug-connector-other" {
			t.Fatalf("refused under the default sandbox: %+v", r)
		}
	}
	paths := map[string]any{
		"config": config, "otherPlugin": other, "otherFamily": otherFamily, "pluginDir": dir,
		"ownBundle": filepath.Join(dir, bundleDirName), "port": ln.Addr().(*net.TCPAddr).Port,
	}
	ctx := context.Background()
	if err := h.Configure(ctx, []host.InstanceConfig{{ID: "probe", Plugin: "logto-probe-universal", Config: mustJSON(t, map[string]any{"paths": paths})}}); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	auth, err := h.AuthorizationURI(ctx, "probe", callbackURL, "st-probe")
	if err != nil {
		t.Fatalf("AuthorizationURI: %v", err)
	}
	u, err := url.Parse(auth.RedirectTo)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	if err := json.Unmarshal([]byte(u.Query().Get("r")), &got); err != nil {
		t.Fatalf("probe answer %q: %v", u.Query().Get("r"), err)
	}
	t.Logf("probe: %v", got)
	want := map[string]string{
		"readConfig": "EACCES", "readOtherPlugin": "EACCES", "readOtherFamily": "EACCES", "listPluginDir": "EACCES",
		"writeBundle": "EACCES", "runShell": "EACCES", "readOtherProc": "EACCES",
		"readOwnBundle": "ok", "connectOut": "ok",
	}
	if slices.Contains(report.Applied, sandbox.FeatureBind) {
		want["bindTCP"] = "EACCES"
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q; want %q", k, got[k], v)
		}
	}
	// Sign-in itself works under the sandbox (the control of the whole path).
	proc, _ := h.Plugin("logto-github-universal")
	if proc.Metadata().Name["en"] != "GitHub" {
		t.Errorf("the GitHub plugin's metadata under the sandbox: %+v", proc.Metadata().Name)
	}
	if strings.Contains(auth.RedirectTo, "session_keys") {
		t.Error("the host's configuration reached the connector")
	}
}

// TestPluginsCommandUnderTheDefaultSandbox runs `idplug plugins --plugin-dir` on a
// folder laid out as make build lays it out, with every connector of the bundle: no
// plugin is refused under the default sandbox, and each serves its metadata.
func TestPluginsCommandUnderTheDefaultSandbox(t *testing.T) {
	needBuild(t)
	b, err := openBundle(built.bundle)
	if err != nil {
		t.Fatal(err)
	}
	dir := productionFolder(t, b.names()...)
	writeManifest(t, dir)
	out, err := exec.Command(plugintest.Binary(t, "./host/cmd/idplug"), "plugins", "--plugin-dir", dir, "--json").Output()
	if err != nil {
		t.Fatalf("idplug plugins: %v\n%s", err, out)
	}
	var listing struct {
		Plugins []struct{ File, ID string }
		Refused []struct{ File, Reason string }
	}
	if err := json.Unmarshal(out, &listing); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(listing.Refused) != 0 || len(listing.Plugins) != len(b.names()) {
		t.Fatalf("%d plugins for %d connectors, refused %+v", len(listing.Plugins), len(b.names()), listing.Refused)
	}
}
