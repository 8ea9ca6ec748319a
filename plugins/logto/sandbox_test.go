package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/host/sandbox"
	"github.com/idplug/idplug/internal/pgtest"
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
  readOtherProc: (p) => fs.readFileSync('/proc/' + p.hostPid + '/environ'),
  readOwnBundle: (p) => fs.readFileSync(p.ownBundle + '/connectors.json', 'utf8').length,
};
function bind() {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', (e) => resolve(e.code || String(e)));
    srv.listen(0, '127.0.0.1', () => { srv.close(); resolve('ok'); });
  });
}
function connect(target) {
  return new Promise((resolve) => {
    const s = net.connect(target, () => { s.destroy(); resolve('ok'); });
    s.once('error', (e) => resolve(e.code || String(e)));
  });
}
async function fetched(url) {
  try {
    const res = await fetch(url);
    await res.text();
    return 'ok';
  } catch (e) {
    return e.cause?.code || e.code || String(e);
  }
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
      out.connectOut = await connect({ port: paths.port, host: '127.0.0.1' });
      out.connectHostListener = await connect({ port: paths.hostPort, host: '127.0.0.1' });
      out.connectNamedSocket = await connect({ path: paths.namedSocket });
      out.connectPostgres = await connect({ path: paths.postgresSocket });
      out.fetchNamed = await fetched(paths.providerUrl);
      out.fetchUnnamed = await fetched('http://127.0.0.1:' + paths.port + '/');
      out.fetchHostListener = await fetched('http://127.0.0.1:' + paths.hostPort + '/');
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
//
// Nor can it use local services: idplug's own listener (directly or through the
// egress proxy, though the config names it), a named Unix socket outside its
// folder, a real PostgreSQL's socket with trust authentication; and under the
// default egress proxy it reaches only what its config names: a fetch of the
// provider the config names works, one elsewhere is refused and counted.
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

	provider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("{}")) }))
	t.Cleanup(provider.Close)
	hostListener := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("{}")) }))
	t.Cleanup(hostListener.Close)
	hostPort := hostListener.Listener.Addr().(*net.TCPAddr).Port
	baitDir := t.TempDir()
	bait, err := net.Listen("unix", filepath.Join(baitDir, "bait.sock"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bait.Close() })
	pg := pgtest.Start(t)

	var refusedMu sync.Mutex
	refused := map[string]int{}
	h, err := host.Open(context.Background(), host.Options{PluginDir: dir,
		Sandbox: sandbox.Policy{HostPorts: []uint16{uint16(hostPort)}},
		OnEgressRefused: func(plugin, reason string) {
			refusedMu.Lock()
			refused[reason]++
			refusedMu.Unlock()
		}})
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
		"hostPort": hostPort, "namedSocket": bait.Addr().String(), "postgresSocket": pg.Socket(),
		"providerUrl": provider.URL + "/token", "hostPid": os.Getpid(),
		// idplug's listener, named as a provider would be: still out of reach.
		"issuer": hostListener.URL + "/oidc",
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
	if report.Has(sandbox.FeatureRoot) {
		// Outside the private root, the host's files are not even there, and
		// what is there is read-only (the plugin folder, where the bundle is
		// mounted, is an empty folder Landlock keeps it from listing anyway).
		for _, k := range []string{"readConfig", "readOtherPlugin", "readOtherFamily", "runShell"} {
			want[k] = "ENOENT"
		}
		want["writeBundle"] = "EROFS"
		want["connectNamedSocket"], want["connectPostgres"] = "ENOENT", "ENOENT"
	}
	if report.Has(sandbox.FeatureProc) {
		// Its /proc is its PID namespace's: the host is not in it.
		want["readOtherProc"] = "ENOENT"
	}
	if report.Has(sandbox.FeatureConnect) {
		want["connectHostListener"] = "EACCES"
	}
	if report.Egress == sandbox.EgressProxy {
		want["connectOut"] = "EACCES"
		want["fetchNamed"], want["fetchUnnamed"], want["fetchHostListener"] = "ok", "EGRESS_REFUSED", "EGRESS_REFUSED"
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q; want %q", k, got[k], v)
		}
	}
	if report.Egress == sandbox.EgressProxy {
		refusedMu.Lock()
		if refused["not_named"] != 1 || refused["host_listener"] != 1 {
			t.Errorf("egress refusals counted %v, want one not_named and one host_listener", refused)
		}
		refusedMu.Unlock()
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
