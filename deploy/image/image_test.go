package image_test

// The images on a real Docker engine (internal/containertest): each test runs
// idplug's image as the image's non-root user with a read-only root file system,
// and signs in through it against the real OpenID provider on loopback.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/idplug/idplug/internal/containertest"
	"github.com/idplug/idplug/internal/gobuild"
	"github.com/idplug/idplug/internal/testport"
)

func TestMain(m *testing.M) { containertest.Main(m) }

const (
	sessionKey = "session-key-0123456789abcdef0123456789"
	apiKey     = "api-key-0123456789abcdef0123456789abcdef"
	imageUID   = "65532"
)

// setup is what a test of one idplug container needs.
type setup struct {
	e    *containertest.Engine
	op   *containertest.Provider
	port int
	base string
}

func newSetup(t *testing.T) *setup {
	e := containertest.Start(t)
	s := &setup{e: e, op: containertest.StartProvider(t)}
	s.port = testport.Free(t)
	s.base = fmt.Sprintf("http://127.0.0.1:%d", s.port)
	return s
}

// configDir writes idplug.yaml and the client secret as a file beside it (read
// through ${file:...}), readable by the image's user, and returns the folder.
func (s *setup) configDir(t testing.TB, port int, plugin string, store string, edit ...func(cfg, connector map[string]any)) string {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := map[string]any{
		"listen":       fmt.Sprintf("127.0.0.1:%d", port),
		"plugin_dir":   "/plugins",
		"session_keys": []string{"${IDPLUG_SESSION_KEY}"},
		"api_keys":     []string{"${file:/etc/idplug/api-key}"},
		"log_format":   "json",
		"store":        map[string]any{"url": store, "timeout": "5s"},
	}
	connector := s.op.OAuth2Config("${file:/etc/idplug/client-secret}")
	cfg["connectors"] = []map[string]any{{"id": "acme", "plugin": plugin, "config": connector}}
	for _, f := range edit {
		f(cfg, connector)
	}
	writeFile(t, filepath.Join(dir, "idplug.yaml"), mustJSON(t, cfg), 0o644)
	writeFile(t, filepath.Join(dir, "client-secret"), s.op.Secret, 0o644)
	writeFile(t, filepath.Join(dir, "api-key"), apiKey, 0o644)
	return dir
}

// run starts the image with the config folder at /etc/idplug, read-only.
func (s *setup) run(t testing.TB, image, dir string, mounts ...containertest.Mount) *containertest.Container {
	return s.e.Run(t, containertest.Spec{
		Image:          image,
		ReadOnlyRootFS: true,
		CapDrop:        []string{"ALL"},
		SecurityOpt:    []string{"no-new-privileges"},
		Env:            []string{"IDPLUG_SESSION_KEY=" + sessionKey},
		Mounts:         append([]containertest.Mount{{Source: dir, Target: "/etc/idplug", ReadOnly: true}}, mounts...),
	})
}

// TestImage: the default command, as the image's non-root user with a read-only
// root file system, is ready with every plugin sandboxed, and a sign-in through it
// against the real provider succeeds.
func TestImage(t *testing.T) {
	s := newSetup(t)
	image := s.e.Image(t, "idplug")
	c := s.run(t, image, s.configDir(t, s.port, "oauth2", "sqlite:/data/idplug.db"))
	ready := c.WaitReady(t, s.base+"/readyz")
	if uid := containertest.HostUID(t, c.Pid(t)); uid != imageUID {
		t.Errorf("idplug runs as uid %s, want the image's user %s", uid, imageUID)
	}
	checkSandboxed(t, ready)
	s.op.SignIn(t, s.base, apiKey, "acme")
	// The API key comes from a file: a request without it is refused.
	if status, body := containertest.Call(t, "GET", s.base+"/v1/connectors", "", nil); status != 401 {
		t.Errorf("no API key: %d %v", status, body)
	}
}

// checkSandboxed fails unless /readyz says the sandbox is on and lists what it
// applied; what the kernel lacks is the kernel's, not the container's, so it is
// compared with the same report outside the container.
func checkSandboxed(t *testing.T, ready string) {
	t.Helper()
	var st struct {
		Sandbox struct {
			Mode    string   `json:"mode"`
			Applied []string `json:"applied"`
			Missing []string `json:"missing"`
		} `json:"sandbox"`
	}
	if err := json.Unmarshal([]byte(ready), &st); err != nil {
		t.Fatalf("/readyz: %v: %s", err, ready)
	}
	if st.Sandbox.Mode != "auto" || !contains(st.Sandbox.Applied, "seccomp deny list") {
		t.Fatalf("the plugins are not sandboxed in the container: %s", ready)
	}
	if len(st.Sandbox.Missing) > 0 {
		t.Logf("sandbox features missing in the container: %v", st.Sandbox.Missing)
	}
}

// TestPluginFolderMount: a folder mounted over /plugins replaces the image's; its
// SHA256SUMS is enforced, so a file the operator did not list never runs.
func TestPluginFolderMount(t *testing.T) {
	s := newSetup(t)
	image := s.e.Image(t, "idplug")
	plugins := t.TempDir()
	if err := os.Chmod(plugins, 0o755); err != nil {
		t.Fatal(err)
	}
	buildStatic(t, s.e.Root(), "./plugins/oauth2", filepath.Join(plugins, "idplug-connector-mine"))
	sums := sha256sum(t, plugins, "idplug-connector-mine")
	writeFile(t, filepath.Join(plugins, "SHA256SUMS"), sums, 0o644)
	// Not listed in SHA256SUMS: someone dropped it in the folder.
	buildStatic(t, s.e.Root(), "./plugins/github", filepath.Join(plugins, "idplug-connector-dropped"))
	c := s.run(t, image, s.configDir(t, s.port, "oauth2", "off"),
		containertest.Mount{Source: plugins, Target: "/plugins", ReadOnly: true})
	ready := c.WaitReady(t, s.base+"/readyz")
	if !strings.Contains(ready, `"file":"idplug-connector-mine"`) || !strings.Contains(ready, "idplug-connector-dropped") ||
		strings.Contains(ready, `"id":"github"`) {
		t.Fatalf("/readyz: want idplug-connector-mine running and idplug-connector-dropped refused: %s", ready)
	}
	s.op.SignIn(t, s.base, apiKey, "acme")
}

func buildStatic(t *testing.T, root, pkg, out string) {
	t.Helper()
	if err := gobuild.Build(context.Background(), root, pkg, out); err != nil {
		t.Fatal(err)
	}
}

func sha256sum(t *testing.T, dir string, files ...string) string {
	t.Helper()
	cmd := exec.Command("sha256sum", files...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func writeFile(t testing.TB, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestDefaultConfig: the image's own configuration, from the environment alone.
func TestDefaultConfig(t *testing.T) {
	e := containertest.Start(t)
	image := e.Image(t, "idplug")
	port, adminPort := testport.Free(t), testport.Free(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	c := e.Run(t, containertest.Spec{
		Image:          image,
		ReadOnlyRootFS: true,
		Env: []string{
			fmt.Sprintf("IDPLUG_LISTEN=127.0.0.1:%d", port),
			fmt.Sprintf("IDPLUG_ADMIN_LISTEN=127.0.0.1:%d", adminPort),
			"IDPLUG_PUBLIC_URL=" + base,
			"IDPLUG_SESSION_KEY=" + sessionKey,
			"IDPLUG_API_KEY=" + apiKey,
		},
	})
	// The main port says whether idplug is ready, and no more; the details
	// are on the admin port, which the docs' docker run does not publish.
	if ready := c.WaitReady(t, base+"/readyz"); strings.Contains(ready, "sandbox") || !strings.Contains(ready, `"ready"`) {
		t.Errorf("the main port's /readyz: %s", ready)
	}
	checkSandboxed(t, c.WaitReady(t, fmt.Sprintf("http://127.0.0.1:%d/readyz", adminPort)))
	if status, body := containertest.Call(t, "GET", base+"/v1/connectors", apiKey, nil); status != 200 {
		t.Fatalf("/v1/connectors: %d %v", status, body)
	}
	if status, _ := containertest.Call(t, "GET", base+"/v1/connectors", "not-"+apiKey, nil); status != 401 {
		t.Fatalf("a wrong API key: %d, want 401", status)
	}
}
