package main

import (
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/idplug/idplug/internal/plugintest"
)

// unprivileged is the account the tests run idplug as, when they run as root.
func unprivileged(t *testing.T) *syscall.Credential {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("runs idplug as another user, which needs root")
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody: " + err.Error())
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
}

// accessible lays out a folder that cred can use: the idplug binary, a plugin
// folder with the example plugin, and a configuration file of cred's own.
func accessible(t *testing.T, cred *syscall.Credential, config string) (bin, cfgPath string) {
	t.Helper()
	base, err := os.MkdirTemp("", "idplug-as-user-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	bin = filepath.Join(base, "idplug")
	if err := plugintest.CopyFile(plugintest.Binary(t, "./host/cmd/idplug"), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	plugins := filepath.Join(base, "plugins")
	if err := os.Mkdir(plugins, 0o755); err != nil {
		t.Fatal(err)
	}
	plugintest.Install(t, plugins, plugintest.Binary(t, "./plugins/example"), "example")
	secrets := filepath.Join(base, "secrets")
	if err := os.Mkdir(secrets, 0o700); err != nil {
		t.Fatal(err)
	}
	cfgPath = filepath.Join(secrets, "idplug.yaml")
	if err := os.WriteFile(cfgPath, []byte(strings.ReplaceAll(config, "PLUGIN_DIR", plugins)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(secrets, "session.key"), []byte(testSessionKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{secrets, cfgPath, filepath.Join(secrets, "session.key")} {
		if err := os.Chown(p, int(cred.Uid), int(cred.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	return bin, cfgPath
}

// readAs reads path as cred, in a process of its own.
func readAs(cred *syscall.Credential, path string) error {
	cmd := exec.Command("/bin/cat", path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return &exec.ExitError{ProcessState: cmd.ProcessState, Stderr: out}
	}
	return nil
}

// idplug serve hides itself: another process of its own user cannot read its
// environment (where its secrets are), while it can read a plugin's. The session
// key comes from a file, and /readyz says how plugins are confined.
func TestServeHidesItselfFromItsOwnUser(t *testing.T) {
	cred := unprivileged(t)
	bin, cfgPath := accessible(t, cred, strings.Join([]string{
		"listen: 127.0.0.1:0",
		"public_url: http://127.0.0.1",
		"plugin_dir: PLUGIN_DIR",
		`session_keys: ["${file:session.key}"]`,
		"log_format: json",
		"sandbox: {mode: required}",
		"connectors:",
		"  - id: hello",
		"    plugin: example",
		"    config: {authorizationEndpoint: 'https://id.example.test/authorize', clientId: c}",
	}, "\n")+"\n")
	cmd := exec.Command(bin, "serve", "--config", cfgPath)
	cmd.Env = []string{"IDPLUG_API_SECRET_FOR_THE_TEST=kept-in-the-environment"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	p := runIdplug(t, cmd, cfgPath)

	status, ready := p.call(t, "GET", "/readyz", "", nil)
	if status != 200 {
		t.Fatalf("readyz %d %v", status, ready)
	}
	if mode := jsonPath(ready, "sandbox", "mode"); mode != "required" {
		t.Errorf("sandbox mode = %v", mode)
	}
	if applied, _ := jsonPath(ready, "sandbox", "applied").([]any); len(applied) != 9 {
		t.Errorf("sandbox applied = %v", jsonPath(ready, "sandbox"))
	}
	pluginPID := int(jsonPath(ready, "plugins", 0, "pid").(float64))

	if err := readAs(cred, "/proc/"+strconv.Itoa(cmd.Process.Pid)+"/environ"); err == nil {
		t.Error("a process of idplug's user read idplug's environment")
	}
	if err := readAs(cred, "/proc/"+strconv.Itoa(pluginPID)+"/environ"); err != nil {
		t.Errorf("control: the same user cannot read an ordinary process's environment either: %v", err)
	}
}

// A plugin holds its connectors' client secrets and the tokens of its calls:
// under plugin_user, no other process of that account reads or traces it (the
// SDK makes the plugin non-dumpable, as idplug makes itself), where any
// process of the account had read its memory. The control: an ordinary
// process of the account is readable.
func TestPluginsHideFromTheirOwnUser(t *testing.T) {
	cred := unprivileged(t) // and this test runs as root
	bin, cfgPath := accessible(t, &syscall.Credential{}, strings.Join([]string{
		"listen: 127.0.0.1:0",
		"public_url: http://127.0.0.1",
		"plugin_dir: PLUGIN_DIR",
		`session_keys: ["${file:session.key}"]`,
		"log_format: json",
		"sandbox: {mode: required}",
		"plugin_user: nobody",
		"connectors:",
		"  - id: hello",
		"    plugin: example",
		"    config: {authorizationEndpoint: 'https://id.example.test/authorize', clientId: c}",
	}, "\n")+"\n")
	cmd := exec.Command(bin, "serve", "--config", cfgPath)
	p := runIdplug(t, cmd, cfgPath)
	status, ready := p.call(t, "GET", "/readyz", "", nil)
	if status != 200 || jsonPath(ready, "sandbox", "user") == nil {
		t.Fatalf("readyz %d %v", status, ready)
	}
	pluginPID := int(jsonPath(ready, "plugins", 0, "pid").(float64))
	for _, f := range []string{"environ", "maps", "mem"} {
		if err := readAs(cred, "/proc/"+strconv.Itoa(pluginPID)+"/"+f); err == nil || !strings.Contains(err.(*exec.ExitError).String()+string(err.(*exec.ExitError).Stderr), "ermission denied") {
			t.Errorf("a process of plugin_user read the plugin's %s: %v", f, err)
		}
	}
	sleeper := exec.Command("/bin/sleep", "60")
	sleeper.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sleeper.Process.Kill(); _ = sleeper.Wait() }()
	if err := readAs(cred, "/proc/"+strconv.Itoa(sleeper.Process.Pid)+"/environ"); err != nil {
		t.Errorf("control: plugin_user cannot read its own ordinary process's environment either: %v", err)
	}
}

// plugin_user needs a host running as root: otherwise the configuration is
// refused, naming the setting.
func TestPluginUserNeedsRoot(t *testing.T) {
	cred := unprivileged(t)
	bin, cfgPath := accessible(t, cred, "plugin_dir: PLUGIN_DIR\nsession_keys: [\"${file:session.key}\"]\nplugin_user: nobody\n")
	cmd := exec.Command(bin, "validate", "--config", cfgPath)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	out, err := cmd.CombinedOutput()
	want := `plugin_user "nobody": idplug runs as uid ` + strconv.Itoa(int(cred.Uid)) + ", not root"
	if err == nil || !strings.Contains(string(out), want) {
		t.Fatalf("validate: %v\n%s\nwant %q", err, out, want)
	}
}
