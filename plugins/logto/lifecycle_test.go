package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/host/sandbox"
	"github.com/idplug/idplug/internal/logtest"
	"github.com/idplug/idplug/internal/plugintest"
)

// noisyConnector is a Logto-shaped social connector that writes to stdout when it is
// imported and on every call, as some npm packages do.
const noisyConnector = `console.log('noisy: imported');
process.stdout.write('1|tcp|127.0.0.1:1|grpc\n');
export default async function createConnector({ getConfig }) {
  return {
    metadata: {
      id: 'noisy-universal', target: 'noisy', platform: 'Universal',
      name: { en: 'Noisy' }, description: { en: 'Writes to stdout.' },
      logo: './logo.svg', logoDark: null, readme: './README.md',
      formItems: [{ key: 'clientId', label: 'Client ID', type: 'Text', required: true }],
    },
    type: 'Social',
    configGuard: { safeParse: (v) => typeof v.clientId === 'string' ? { success: true, data: v } : { success: false, error: { issues: [{ code: 'invalid_type', expected: 'string', received: typeof v.clientId, path: ['clientId'] }] } }, shape: { clientId: {} } },
    getAuthorizationUri: async ({ state, redirectUri }, setSession) => {
      const { clientId } = await getConfig('noisy-universal');
      console.log('noisy: authorize');
      await setSession({ nonce: 'n-' + state });
      return 'https://noisy.example/auth?client_id=' + clientId + '&state=' + state;
    },
    getUserInfo: async (data, getSession) => {
      const { nonce } = await getSession();
      console.log('noisy: user info');
      return { id: 'noisy-' + data.code, name: nonce };
    },
  };
}
`

// noisyFolder is a production layout (plugin files beside the bundle, digest list,
// SHA256SUMS) whose bundle also holds the noisy connector.
func noisyFolder(t *testing.T) string {
	t.Helper()
	dir := productionFolder(t, "oauth", "github")
	addConnector(t, dir, "noisy", noisyConnector)
	return dir
}

// addConnector adds a package @logto/connector-<name> with source as its code to the
// bundle in dir, as scripts/add-logto-connector would, and its plugin file.
func addConnector(t *testing.T, dir, name, source string) {
	t.Helper()
	bundleDir := filepath.Join(dir, bundleDirName)
	pkg := filepath.Join(bundleDir, "node_modules", "@logto", "connector-"+name)
	mustWrite(t, filepath.Join(pkg, "package.json"), `{"name":"@logto/connector-`+name+`","version":"0.0.1","type":"module","main":"./lib/index.js","exports":"./lib/index.js"}`)
	mustWrite(t, filepath.Join(pkg, "lib", "index.js"), source)
	mustWrite(t, filepath.Join(pkg, "logo.svg"), `<svg xmlns="http://www.w3.org/2000/svg"/>`)
	mustWrite(t, filepath.Join(pkg, "README.md"), "# Noisy\n")
	pj, err := os.ReadFile(filepath.Join(bundleDir, "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(bundleDir, "package.json"), strings.Replace(string(pj), `"dependencies": {`, `"dependencies": {
    "@logto/connector-`+name+`": "0.0.1",`, 1))
	if err := os.Remove(filepath.Join(bundleDir, catalogName)); err != nil { // a hard link: write a new file
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(bundleDir, nodeName), filepath.Join(bundleDir, bridgeName), "--catalog", filepath.Join(bundleDir, catalogName))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("catalog: %v\n%s", err, out)
	}
	if err := os.Link(built.plugin, filepath.Join(dir, filePrefix+name)); err != nil {
		t.Fatal(err)
	}
	writeManifest(t, dir)
}

// TestConnectorFailsAtFirstUse: a connector that loads for its metadata but throws when
// an instance is made gives a clear error for each call, not a dead plugin.
func TestConnectorFailsAtFirstUse(t *testing.T) {
	dir := productionFolder(t)
	addConnector(t, dir, "flaky", strings.Replace(noisyConnector, "export default async function createConnector({ getConfig }) {",
		"let made = 0;\nexport default async function createConnector({ getConfig }) {\n  if (++made > 1 && process.argv.includes('--serve')) throw new Error('cannot start: https://flaky.example/x?token=t0ps3cret');", 1))
	h := openHost(t, dir)
	ctx := context.Background()
	if err := h.Configure(ctx, []host.InstanceConfig{{ID: "f", Plugin: "logto-noisy-universal", Config: mustJSON(t, map[string]any{"clientId": "c1"})}}); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	for range 2 { // the plugin keeps answering
		_, err := h.AuthorizationURI(ctx, "f", callbackURL, "st-flaky")
		if err == nil {
			t.Fatal("AuthorizationURI succeeded with a connector that throws")
		}
		if strings.Contains(err.Error(), "t0ps3cret") || strings.Contains(err.Error(), "?") {
			t.Errorf("the error carries the URL's query: %v", err)
		}
		if !strings.Contains(err.Error(), "cannot start") {
			t.Errorf("the error does not say what the connector said: %v", err)
		}
	}
}

// What Node prints reaches the plugin's log, at debug (a connector's console
// is third-party text), and a Node that exits while loading is quoted in the
// error: both had gone to go-plugin's stderr, which no one reads, and the
// error had sent the operator to a log that did not have it.
func TestNodeOutputIsLoggedAndQuoted(t *testing.T) {
	dir := productionFolder(t)
	addConnector(t, dir, "dying", strings.Replace(noisyConnector, "console.log('noisy: imported');",
		"if (process.argv.includes('--serve') && process.argv.some((a) => a.includes('dying'))) {\n"+
			"  process.stderr.write('dying: this Node is too old for the bridge\\n'); process.exit(9);\n}\nconsole.log('noisy: imported');", 1))
	log := logtest.New()
	h := openHostLogging(t, dir, hclog.New(&hclog.LoggerOptions{Level: hclog.Debug, Output: log}))
	ctx := context.Background()
	err := h.Configure(ctx, []host.InstanceConfig{
		{ID: "d", Plugin: "logto-noisy-universal", Config: mustJSON(t, map[string]any{"clientId": "c1"})},
	})
	if err == nil {
		_, err = h.AuthorizationURI(ctx, "d", callbackURL, "st-dying")
	}
	if err == nil || !strings.Contains(err.Error(), "Node exited while loading") ||
		!strings.Contains(err.Error(), "it said: dying: this Node is too old for the bridge") {
		t.Fatalf("the failed start: %v; want Node's own words", err)
	}
	// A connector that loads: its console reaches the log.
	noisy := productionFolder(t)
	addConnector(t, noisy, "noisy", noisyConnector)
	log = logtest.New()
	h = openHostLogging(t, noisy, hclog.New(&hclog.LoggerOptions{Level: hclog.Debug, Output: log}))
	if err := h.Configure(ctx, []host.InstanceConfig{{ID: "n", Plugin: "logto-noisy-universal", Config: mustJSON(t, map[string]any{"clientId": "c1"})}}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.AuthorizationURI(ctx, "n", callbackURL, "st-noisy"); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	log.AwaitLine(wctx, t, "node: noisy: imported")
}

// A bundle copied by a tool that drops modes leaves Node without its execute
// bit (the digests cover contents, not modes): the start names that, where it
// had blamed the sandbox.
func TestNodeWithoutItsExecuteBitIsNamed(t *testing.T) {
	dir := productionFolder(t)
	addConnector(t, dir, "noisy", noisyConnector)
	node := filepath.Join(dir, bundleDirName, nodeName)
	if err := os.Remove(node); err != nil { // a link into the shared bundle: replaced, never changed
		t.Fatal(err)
	}
	if err := plugintest.CopyFile(filepath.Join(built.bundle, nodeName), node, 0o644); err != nil {
		t.Fatal(err)
	}
	h := openHost(t, dir)
	err := h.Configure(context.Background(), []host.InstanceConfig{{ID: "n", Plugin: "logto-noisy-universal", Config: mustJSON(t, map[string]any{"clientId": "c1"})}})
	if err == nil || !strings.Contains(err.Error(), "is not executable (mode 0644)") || strings.Contains(err.Error(), "sandbox") {
		t.Fatalf("Configure with a Node of mode 0644: %v; want its mode named", err)
	}
}

// writeManifest lists every bundle file in logto-bundle.sha256, and that file and the
// plugins in SHA256SUMS, as make build does.
func writeManifest(t *testing.T, dir string) {
	t.Helper()
	var lines []string
	bundleDir := filepath.Join(dir, bundleDirName)
	err := filepath.WalkDir(bundleDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		sum, err := fileDigest(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(bundleDir, path)
		lines = append(lines, hex.EncodeToString(sum)+"  "+filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	manifest := filepath.Join(dir, manifestName)
	mustWrite(t, manifest, strings.Join(lines, "\n")+"\n")
	entries, _ := os.ReadDir(dir)
	var sums []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "idplug-connector-") || e.Name() == manifestName {
			sum, err := fileDigest(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			sums = append(sums, hex.EncodeToString(sum)+"  "+e.Name())
		}
	}
	mustWrite(t, filepath.Join(dir, pluginSumsName), strings.Join(sums, "\n")+"\n")
}

// mustWrite writes a new file at path: a hard link there into the shared bundle is
// replaced, never written through.
func mustWrite(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestLifecycle runs the production build from a folder laid out as make build lays
// it out: Node starts only for a configured connector, writes to stdout do not reach
// go-plugin's handshake, a killed Node is started again, and Node dies with the plugin.
func TestLifecycle(t *testing.T) {
	dir := noisyFolder(t)
	h := openHost(t, dir)
	ctx := context.Background()
	if n := len(h.Plugins()); n != 3 {
		t.Fatalf("%d plugins run; want oauth, github and noisy", n)
	}
	for _, p := range h.Plugins() {
		if kids := children(p.Proc.PID()); len(kids) != 0 {
			t.Errorf("plugin %s runs %v before any instance is configured; want no Node", p.Proc.Metadata().ID, kids)
		}
	}
	proc, ok := h.Plugin("logto-noisy-universal")
	if !ok {
		t.Fatal("no plugin logto-noisy-universal")
	}
	if m := proc.Metadata(); m.Name["en"] != "Noisy" || !strings.HasPrefix(m.Logo, "data:image/svg+xml;base64,") || m.Readme != "# Noisy\n" {
		t.Errorf("metadata = %+v", m)
	}
	if err := h.Configure(ctx, []host.InstanceConfig{{ID: "noisy", Plugin: "logto-noisy-universal", Config: mustJSON(t, map[string]any{"clientId": "c1"})}}); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	signIn := func(state string) {
		t.Helper()
		auth, err := h.AuthorizationURI(ctx, "noisy", callbackURL, state)
		if err != nil {
			t.Fatalf("AuthorizationURI: %v", err)
		}
		res, err := h.UserInfo(ctx, "noisy", auth.Session, map[string]string{"state": state, "code": "c-" + state})
		if err != nil {
			t.Fatalf("UserInfo: %v", err)
		}
		if res.UserInfo.ID != "noisy-c-"+state || *res.UserInfo.Name != "n-"+state {
			t.Fatalf("profile = %s", show(res.UserInfo))
		}
	}
	signIn("st-1")
	pluginPID := proc.PID()
	node := children(pluginPID)
	if len(node) != 1 {
		t.Fatalf("plugin runs %v; want one Node", node)
	}

	// A killed Node is started again by the next call.
	if err := syscall.Kill(node[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitGone(t, node[0])
	signIn("st-2")
	again := children(pluginPID)
	if len(again) != 1 || again[0] == node[0] {
		t.Fatalf("after Node was killed the plugin runs %v", again)
	}
	if proc.PID() != pluginPID {
		t.Errorf("the plugin restarted (%d, then %d); only Node should have", pluginPID, proc.PID())
	}

	// A SIGKILLed plugin leaves no Node behind (Pdeathsig).
	if err := syscall.Kill(pluginPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitGone(t, again[0])
}

// TestBundleTampered: a bundle file that does not match its digest keeps Node from
// starting, with an error that names the file.
func TestBundleTampered(t *testing.T) {
	dir := productionFolder(t, "github")
	writeManifest(t, dir)
	h := openHost(t, dir)
	victim := filepath.Join(dir, bundleDirName, "node_modules", "@logto", "connector-github", "lib", "index.js")
	data, err := os.ReadFile(victim)
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, victim, string(data)+"\n// changed\n")
	err = h.Configure(context.Background(), []host.InstanceConfig{{ID: "gh", Plugin: "logto-github-universal", Config: mustJSON(t, map[string]any{"clientId": "a", "clientSecret": "b"})}})
	if err == nil || !strings.Contains(err.Error(), "connector-github/lib/index.js does not match its digest") {
		t.Fatalf("Configure with a changed bundle file = %v", err)
	}
	// A folder of the bundle that others can write to is refused too.
	mustWrite(t, victim, string(data))
	loose := filepath.Join(dir, bundleDirName, "node_modules", "@logto", "connector-github")
	if err := os.Chmod(loose, 0o777); err != nil {
		t.Fatal(err)
	}
	err = h.Configure(context.Background(), []host.InstanceConfig{{ID: "gh", Plugin: "logto-github-universal", Config: mustJSON(t, map[string]any{"clientId": "a", "clientSecret": "d"})}})
	if err == nil || !strings.Contains(err.Error(), "connector-github can be written by other users") {
		t.Fatalf("Configure with a bundle folder others can write = %v", err)
	}
	if err := os.Chmod(loose, 0o755); err != nil {
		t.Fatal(err)
	}
	// The digest list itself is covered by SHA256SUMS: rewritten to match a changed
	// file, it no longer matches its own digest. The running plugin cannot even read
	// the new file (the sandbox granted the one there at its start, and its
	// private root holds that one); a host started
	// afterwards reads it and refuses it by its digest.
	mustWrite(t, victim, string(data)+"\n// changed\n")
	writeManifestOnly(t, dir)
	err = h.Configure(context.Background(), []host.InstanceConfig{{ID: "gh", Plugin: "logto-github-universal", Config: mustJSON(t, map[string]any{"clientId": "a", "clientSecret": "c"})}})
	switch {
	case h.Sandbox().Has(sandbox.FeatureRoot):
		// Its private root holds the list it started with (a bind mount keeps
		// the file, not the path): the changed file fails against that one.
		if err == nil || !strings.Contains(err.Error(), "connector-github/lib/index.js does not match its digest in "+manifestName) {
			t.Fatalf("Configure with a digest list replaced under a running plugin = %v", err)
		}
	case slices.Contains(h.Sandbox().Applied, sandbox.FeatureFS):
		if err == nil || !strings.Contains(err.Error(), manifestName+" cannot be read: it was replaced after this plugin started") {
			t.Fatalf("Configure with a digest list replaced under a running plugin = %v", err)
		}
	}
	h = openHost(t, dir)
	err = h.Configure(context.Background(), []host.InstanceConfig{{ID: "gh", Plugin: "logto-github-universal", Config: mustJSON(t, map[string]any{"clientId": "a", "clientSecret": "c"})}})
	if err == nil || !strings.Contains(err.Error(), manifestName+" does not match its digest in SHA256SUMS") {
		t.Fatalf("Configure with a rewritten digest list = %v", err)
	}
}

// TestSignInsAfterAPluginRestartWaitOutTheSpacing: starts that fail are spaced
// because any browser can ask for a sign-in. Once the plugin itself restarted (a
// crash, an OOM kill) it no longer held the instance's configuration, so every
// sign-in carried it to be checked, and the check, exempt from the spacing as an
// operator's, started Node anew each time. Only the first sign-in starts it now;
// an operator's changed configuration still gets a fresh start and answer.
func TestSignInsAfterAPluginRestartWaitOutTheSpacing(t *testing.T) {
	dir := productionFolder(t, "github")
	writeManifest(t, dir)
	h := openHost(t, dir)
	ctx := context.Background()
	configure := func(secret string) error {
		return h.Configure(ctx, []host.InstanceConfig{{ID: "gh", Plugin: "logto-github-universal", Config: mustJSON(t, map[string]any{"clientId": "a", "clientSecret": secret})}})
	}
	if err := configure("b"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.AuthorizationURI(ctx, "gh", callbackURL, "st-1"); err != nil {
		t.Fatal(err)
	}
	// From now on every start of Node fails: a bundle file no longer matches its digest.
	victim := filepath.Join(dir, bundleDirName, "node_modules", "@logto", "connector-github", "lib", "index.js")
	data, err := os.ReadFile(victim)
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, victim, string(data)+"\n// changed\n")

	proc, _ := h.Plugin("logto-github-universal")
	old := proc.PID()
	node := children(old)
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for _, pid := range node {
		waitGone(t, pid) // Pdeathsig
	}
	deadline := time.Now().Add(30 * time.Second)
	for proc.PID() == 0 || proc.PID() == old {
		if time.Now().After(deadline) {
			t.Fatal("the plugin was not restarted")
		}
		time.Sleep(50 * time.Millisecond)
	}
	starts, began := 0, time.Now()
	for i := range 4 {
		_, err := h.AuthorizationURI(ctx, "gh", callbackURL, fmt.Sprintf("st-after-%d", i))
		if err == nil {
			t.Fatal("a sign-in succeeded with a changed bundle")
		}
		if !strings.Contains(err.Error(), "does not match its digest") {
			t.Fatalf("sign-in %d: %v; want the failed start's error", i+1, err)
		}
		if !strings.Contains(err.Error(), "the next try is in") {
			starts++
		}
	}
	// Only the first starts Node, unless the machine was so slow that a wait (1 s,
	// then 2 s, 4 s) ran out between two sign-ins.
	allowed := 1
	for wait, since := time.Second, time.Since(began); wait <= since; wait = 2*wait + time.Second {
		allowed++
	}
	if starts > allowed {
		t.Fatalf("%d of 4 back-to-back sign-ins started Node (within %s); want only the first (the others wait out the spacing)", starts, time.Since(began).Round(time.Millisecond))
	}
	// The operator's new configuration is checked with a start of its own.
	err = configure("c")
	if err == nil || !strings.Contains(err.Error(), "does not match its digest") || strings.Contains(err.Error(), "the next try is in") {
		t.Fatalf("Configure with a new configuration = %v; want a fresh start's error", err)
	}
}

// writeManifestOnly rewrites the digest list to match the bundle, leaving SHA256SUMS.
func writeManifestOnly(t *testing.T, dir string) {
	t.Helper()
	sums, err := os.ReadFile(filepath.Join(dir, pluginSumsName))
	if err != nil {
		t.Fatal(err)
	}
	writeManifest(t, dir)
	mustWrite(t, filepath.Join(dir, pluginSumsName), string(sums))
}

// children lists the live processes whose parent is pid.
func children(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		ppid, state, ok := procStat(child)
		if ok && ppid == pid && state != "Z" {
			out = append(out, child)
		}
	}
	return out
}

// procStat reads a process's parent and state from /proc/<pid>/stat.
func procStat(pid int) (ppid int, state string, ok bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, "", false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, "", false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0, "", false
	}
	ppid, _ = strconv.Atoi(f[1])
	return ppid, f[0], true
}

// waitGone waits until pid has exited (a zombie counts: it runs nothing).
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if _, state, ok := procStat(pid); !ok || state == "Z" {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("process %d still runs", pid)
}
