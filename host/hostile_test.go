package host_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/host/sandbox"
	"github.com/idplug/idplug/internal/pgtest"
	"github.com/idplug/idplug/internal/plugintest"
	"golang.org/x/sys/unix"
)

// postgresFor starts a real PostgreSQL once for the hostile tests: its Unix
// socket, with trust authentication, is what a plugin must not reach.
func postgresFor(t *testing.T) string {
	t.Helper()
	pg := pgtest.Start(t)
	return pg.Socket()
}

const hostilePkg = "./host/testdata/hostile"

// hostileHostEnv makes the test binary act as a host that runs the hostile plugin
// and prints what its escape attempts gave (see runHostileHost). A separate
// process, so that it can run as another user and hide itself as idplug does.
const hostileHostEnv = "IDPLUG_TEST_HOSTILE_HOST"

// hostSecret is in the hostile host's environment, as idplug's keys would be.
const hostSecret = "IDPLUG_SESSION_KEY=never-leaves-the-host-0123456789abcdef"

type hostileSetup struct {
	Dir        string          // the plugin folder; the hostile plugin is added after the others start
	HostileBin string          // installed as idplug-connector-hostile once the others run
	Mode       sandbox.Mode    `json:",omitempty"`
	User       string          `json:",omitempty"` // plugin_user
	Config     json.RawMessage // the hostile plugin's config, before the host adds its own targets
	Egress     sandbox.Egress  `json:",omitempty"`
	// PostgresSocket is a real PostgreSQL's Unix socket (trust authentication).
	PostgresSocket string `json:",omitempty"`
	// BaitSocket is where the host listens on a named Unix socket outside the
	// plugin's folder.
	BaitSocket string
}

type hostileResult struct {
	Attempts map[string]string
	// Refused counts the egress proxy's refusals by plugin and reason.
	Refused map[string]int
	Example string // the example connector's answer after the attempts: "ok" or the error
	Sandbox sandbox.Report
}

func runHostileHost() {
	if err := hostileHost(); err != nil {
		fmt.Fprintln(os.Stderr, "hostile host:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func hostileHost() error {
	var setup hostileSetup
	if err := json.Unmarshal([]byte(os.Getenv(hostileHostEnv)), &setup); err != nil {
		return err
	}
	if err := sandbox.HideProcess(); err != nil {
		return err
	}
	// A listener standing in for idplug's own API: its port is one of the host's.
	api, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer api.Close()
	go func() {
		_ = http.Serve(api, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "{}") }))
	}()
	// A provider the hostile plugin's config names.
	provider, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer provider.Close()
	go func() {
		_ = http.Serve(provider, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "{}") }))
	}()
	// A named socket outside the plugin's folder (a bait for PostgreSQL's).
	bait, err := net.Listen("unix", setup.BaitSocket)
	if err != nil {
		return err
	}
	defer bait.Close()
	if err := os.Chmod(setup.BaitSocket, 0o666); err != nil {
		return err
	}
	// A SysV shared memory segment and a POSIX message queue of the host's,
	// mode 0600: no plugin's, whatever user it runs as.
	shmKey := 0x1d900000 + os.Getpid()
	shm, err := unix.SysvShmGet(shmKey, 4096, unix.IPC_CREAT|unix.IPC_EXCL|0o600)
	if err != nil {
		return fmt.Errorf("shmget: %w", err)
	}
	defer unix.SysvShmCtl(shm, unix.IPC_RMID, nil)
	queue := fmt.Sprintf("/idplug-hostile-%d", os.Getpid())
	if err := hostQueue(queue); err != nil {
		return err
	}
	defer unlinkQueue(queue)
	namespaces := map[string]string{}
	for _, ns := range []string{"ipc", "uts"} {
		if namespaces[ns], err = os.Readlink("/proc/self/ns/" + ns); err != nil {
			return err
		}
	}

	policy := sandbox.Policy{Mode: setup.Mode, Egress: setup.Egress, HostPorts: []uint16{uint16(api.Addr().(*net.TCPAddr).Port)}}
	if setup.User != "" {
		u, err := sandbox.LookupUser(setup.User)
		if err != nil {
			return err
		}
		policy.User = u
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var refusedMu sync.Mutex
	refused := map[string]int{}
	h, err := host.Open(ctx, host.Options{PluginDir: setup.Dir, Sandbox: policy, OnEgressRefused: func(plugin, reason string) {
		refusedMu.Lock()
		refused[plugin+" "+reason]++
		refusedMu.Unlock()
	}})
	if err != nil {
		return err
	}
	defer h.Close()
	// The example plugin runs alone so far: its socket is the only one of ours.
	others, _ := filepath.Glob(filepath.Join(host.SocketBase(), "idplug-*", "plugin-dir*", "plugin*"))
	var otherSocket string
	for _, s := range others {
		owner, _ := os.ReadFile(filepath.Join(filepath.Dir(filepath.Dir(s)), "owner"))
		if strings.HasPrefix(string(owner), strconv.Itoa(os.Getpid())+" ") {
			otherSocket = s
		}
	}
	if otherSocket == "" {
		return fmt.Errorf("the example plugin's socket was not found among %v", others)
	}
	if err := plugintest.CopyFile(setup.HostileBin, filepath.Join(setup.Dir, "idplug-connector-hostile"), 0o755); err != nil {
		return err
	}
	if err := h.Rescan(ctx); err != nil {
		return err
	}

	abstract := fmt.Sprintf("idplug-test-%d", os.Getpid())
	al, err := net.Listen("unix", "@"+abstract)
	if err != nil {
		return err
	}
	defer al.Close()
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer tl.Close()
	go func() {
		_ = http.Serve(tl, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "{}") }))
	}()
	go func() {
		for {
			c, err := bait.Accept()
			if err != nil {
				return
			}
			_, _ = c.Read(make([]byte, 64)) // what was sent got here
			c.Close()
		}
	}()
	for _, l := range []net.Listener{al} {
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}

	var cfg map[string]any
	if err := json.Unmarshal(setup.Config, &cfg); err != nil {
		return err
	}
	cfg["otherSocket"], cfg["abstractSocket"], cfg["connect"] = otherSocket, abstract, tl.Addr().String()
	cfg["connectAllowed"] = h.Sandbox().Egress == sandbox.EgressOpen
	cfg["hostListener"], cfg["namedSocket"] = api.Addr().String(), setup.BaitSocket
	cfg["providerUrl"], cfg["postgresSocket"] = "http://"+provider.Addr().String()+"/token", setup.PostgresSocket
	cfg["hostPid"] = os.Getpid()
	cfg["hostShmKey"], cfg["hostQueue"], cfg["hostNamespaces"] = shmKey, queue, namespaces
	// The config names idplug's own listener too (as a URL, as a provider's
	// would be): still out of reach.
	cfg["issuer"] = "http://" + api.Addr().String() + "/oidc"
	raw, _ := json.Marshal(cfg)
	if err := h.Configure(ctx, []host.InstanceConfig{
		{ID: "hostile", Plugin: "hostile", Config: raw},
		{ID: "hello", Plugin: "example", Config: exampleConfig("Hello")},
	}); err != nil {
		return err
	}
	auth, err := h.AuthorizationURI(ctx, "hostile", "https://app.test/cb", "state-1")
	if err != nil {
		return err
	}
	refusedMu.Lock()
	res := hostileResult{Attempts: auth.Session, Example: "ok", Sandbox: h.Sandbox(), Refused: maps.Clone(refused)}
	refusedMu.Unlock()
	if _, err := h.AuthorizationURI(ctx, "hello", "https://app.test/cb", "state-2"); err != nil {
		res.Example = err.Error()
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// hostQueue makes a POSIX message queue, mode 0600, holding one message.
func hostQueue(name string) error {
	p, err := unix.BytePtrFromString(strings.TrimPrefix(name, "/"))
	if err != nil {
		return err
	}
	fd, _, e := unix.Syscall6(unix.SYS_MQ_OPEN, uintptr(unsafe.Pointer(p)), unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY, 0o600, 0, 0, 0)
	if e != 0 {
		return fmt.Errorf("mq_open: %w", e)
	}
	defer unix.Close(int(fd))
	msg := []byte("a secret of the host's")
	if _, _, e := unix.Syscall6(unix.SYS_MQ_TIMEDSEND, fd, uintptr(unsafe.Pointer(&msg[0])), uintptr(len(msg)), 0, 0, 0); e != 0 {
		return fmt.Errorf("mq_timedsend: %w", e)
	}
	return nil
}

func unlinkQueue(name string) {
	if p, err := unix.BytePtrFromString(strings.TrimPrefix(name, "/")); err == nil {
		_, _, _ = unix.Syscall(unix.SYS_MQ_UNLINK, uintptr(unsafe.Pointer(p)), 0, 0)
	}
}

// hostileRun lays out a plugin folder, secrets and targets that the given user
// (nil: this process's) can use, runs the hostile host as that user, and returns
// what the plugin got.
func hostileRun(t *testing.T, as *sandbox.User, mode sandbox.Mode, pluginUser string) (hostileResult, map[string]string) {
	return hostileRunEgress(t, as, mode, pluginUser, "")
}

func hostileRunEgress(t *testing.T, as *sandbox.User, mode sandbox.Mode, pluginUser string, egress sandbox.Egress) (hostileResult, map[string]string) {
	t.Helper()
	// Not t.TempDir: its parent is private to root, and the host may run as
	// another user.
	base, err := os.MkdirTemp("", "idplug-hostile-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(base) })
	mkdir := func(path string, mode os.FileMode, owner *sandbox.User) string {
		if err := os.MkdirAll(path, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		if owner != nil {
			if err := os.Chown(path, int(owner.UID), int(owner.GID)); err != nil {
				t.Fatal(err)
			}
		}
		return path
	}
	write := func(path, content string, owner *sandbox.User) string {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if owner != nil {
			if err := os.Chown(path, int(owner.UID), int(owner.GID)); err != nil {
				t.Fatal(err)
			}
		}
		return path
	}
	mkdir(base, 0o755, nil)
	plugins := mkdir(filepath.Join(base, "plugins"), 0o755, nil)
	plugintest.Install(t, plugins, plugintest.Binary(t, examplePkg), "example")
	hostileBin := filepath.Join(mkdir(filepath.Join(base, "bin"), 0o755, nil), "hostile")
	if err := plugintest.CopyFile(plugintest.Binary(t, hostilePkg), hostileBin, 0o755); err != nil {
		t.Fatal(err)
	}
	// The host must be able to write the plugin folder to add the hostile plugin.
	if as != nil {
		if err := os.Chown(plugins, int(as.UID), int(as.GID)); err != nil {
			t.Fatal(err)
		}
	}
	secrets := mkdir(filepath.Join(base, "secrets"), 0o700, as)
	cfgFile := write(filepath.Join(secrets, "idplug.yaml"), "session_keys: [\"${file:session.key}\"]\n", as)
	keyFile := write(filepath.Join(secrets, "session.key"), "0123456789abcdef0123456789abcdef\n", as)
	writable := mkdir(filepath.Join(base, "writable"), 0o700, as)
	hostileCfg, _ := json.Marshal(map[string]any{
		"read":  map[string]string{"config file": cfgFile, "key file": keyFile, "another plugin's file": filepath.Join(plugins, "idplug-connector-example")},
		"write": []string{writable, plugins, secrets},
	})
	pg := postgresFor(t)
	setup, _ := json.Marshal(hostileSetup{Dir: plugins, HostileBin: hostileBin, Mode: mode, User: pluginUser, Config: hostileCfg,
		Egress: egress, PostgresSocket: pg, BaitSocket: filepath.Join(mkdir(filepath.Join(base, "bait"), 0o755, as), "bait.sock")})

	// The test binary, where the host user can run it.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(base, "bin", "host.test")
	if err := plugintest.CopyFile(self, exe, 0o755); err != nil {
		t.Fatal(err)
	}
	// Bounded: a host a plugin managed to stop must fail the test, not hang it.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "-test.run=^$")
	cmd.Dir = base
	cmd.Env = []string{hostileHostEnv + "=" + string(setup), hostSecret, "PATH=/usr/bin:/bin", "TMPDIR=/tmp"}
	// The host holds the key file open without close-on-exec, as it would
	// when a careless parent (a shell script, a supervisor) opened it: the
	// plugin must get none of its host's descriptors (the attempts "hold" and
	// "read a file through a descriptor its host inherited").
	inherited, err := os.Open(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	defer inherited.Close()
	cmd.ExtraFiles = append(make([]*os.File, inheritedFD-3), inherited)
	if as != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: as.UID, Gid: as.GID, Groups: []uint32{}}}
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("hostile host: %v\n%s", err, stderr.String())
	}
	var res hostileResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("hostile host said %q: %v\n%s", out, err, stderr.String())
	}
	return res, map[string]string{"key": "0123456789abcdef0123456789abcdef", "env": hostSecret}
}

// holdInherited is the attempt to use a descriptor the host inherited from
// its parent (see inheritedFD).
const holdInherited = "deny:hold a descriptor its host inherited"

// inheritedFD is where the hostile host holds a descriptor it inherited: above
// the plugin file and the ruleset its launchers pass on (3 and 4).
const inheritedFD = 13

// checkContained fails for every escape that worked and every need that was refused.
func checkContained(t *testing.T, res hostileResult, secrets map[string]string) {
	t.Helper()
	escapes, needs := 0, 0
	keys := slices.Sorted(maps.Keys(res.Attempts))
	for _, what := range keys {
		got := res.Attempts[what]
		t.Logf("%s: %s", what, got)
		for _, s := range secrets {
			if strings.Contains(got, s) {
				t.Errorf("%s: a secret reached the plugin: %s", what, got)
			}
		}
		switch {
		case strings.HasPrefix(what, "deny:"):
			escapes++
			if !strings.HasPrefix(got, "denied") {
				t.Errorf("escape %q worked: %s", strings.TrimPrefix(what, "deny:"), got)
			}
		case strings.HasPrefix(what, "allow:"):
			needs++
			if got != "allowed" {
				t.Errorf("the plugin could not %s: %s", strings.TrimPrefix(what, "allow:"), got)
			}
		}
	}
	if escapes < 26 || needs < 4 {
		t.Errorf("only %d escapes and %d needs were tried: %v", escapes, needs, res.Attempts)
	}
	if _, ok := res.Attempts[execOwnCopy]; !ok {
		t.Errorf("the plugin did not try to run a copy of itself from its socket folder: %v", res.Attempts)
	}
	if _, ok := res.Attempts[holdInherited]; !ok {
		t.Errorf("the plugin did not look for descriptors its host inherited: %v", res.Attempts)
	}
	for _, what := range kernelAttempts {
		if _, ok := res.Attempts[what]; !ok {
			t.Errorf("the plugin did not try to %s: %v", strings.TrimPrefix(what, "deny:"), res.Attempts)
		}
	}
	if res.Example != "ok" {
		t.Errorf("the host stopped serving the other plugin: %s", res.Example)
	}
	if len(res.Sandbox.Missing) > 0 {
		t.Errorf("this kernel should apply the whole sandbox, missing %v", res.Sandbox.Missing)
	}
	if res.Sandbox.Egress == sandbox.EgressProxy {
		// Counted for metrics: the unnamed address and idplug's listener.
		if res.Refused["hostile not_named"] != 1 || res.Refused["hostile host_listener"] != 1 {
			t.Errorf("egress refusals counted %v, want one not_named and one host_listener", res.Refused)
		}
	}
}

// kernelAttempts are what capabilities, the host's IPC and UTS namespaces and
// the kernel's less common interfaces would give a plugin.
var kernelAttempts = []string{
	"deny:hold a capability", "deny:gain a capability by exec", "deny:set the clock", "deny:set the host name",
	"deny:read the kernel log", "deny:open a vsock socket", "deny:set up an io_uring",
	"deny:read the host's SysV shared memory", "deny:open the host's POSIX message queue",
	"deny:share the host's ipc namespace", "deny:share the host's uts namespace",
}

// execOwnCopy is the attempt to run a program the plugin wrote: a copy of
// itself in its socket folder, the one folder it may write.
const execOwnCopy = "deny:exec a copy of itself from the socket folder"

// requireFullSandbox skips a test of the whole sandbox on a kernel that cannot
// apply it (Landlock ABI 6 and seccomp are needed).
func requireFullSandbox(t *testing.T) {
	t.Helper()
	if r := sandbox.Assess(sandbox.Policy{}, sandbox.Detect(sandbox.Policy{})); !r.Complete() {
		t.Skipf("this kernel cannot apply the whole sandbox (Landlock ABI %d; missing %v): run on Linux 6.12 or later", r.LandlockABI, r.Missing)
	}
}

func nobody(t *testing.T) *sandbox.User {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil // already unprivileged: run as ourselves
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody to run the host as: " + err.Error())
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &sandbox.User{Name: "nobody", UID: uint32(uid), GID: uint32(gid)}
}

// TestHostilePluginCannotEscape runs a plugin that tries every escape against a
// host (which hides itself as idplug does), as root and as an unprivileged user,
// whose other plugin, config file and key file are the prize.
func TestHostilePluginCannotEscape(t *testing.T) {
	requireFullSandbox(t)
	t.Run("host as root", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("needs root; the unprivileged case runs below")
		}
		res, secrets := hostileRun(t, nil, "", "")
		checkContained(t, res, secrets)
		if res.Attempts["info:uid"] != "0" {
			t.Errorf("plugin ran as uid %s", res.Attempts["info:uid"])
		}
	})
	t.Run("host as an unprivileged user", func(t *testing.T) {
		as := nobody(t)
		res, secrets := hostileRun(t, as, "", "")
		checkContained(t, res, secrets)
		if as != nil && res.Attempts["info:uid"] != strconv.Itoa(int(as.UID)) {
			t.Errorf("plugin ran as uid %s, want the host's %d", res.Attempts["info:uid"], as.UID)
		}
		// In its user namespace the plugin gets sandbox.MaxTasks threads and
		// processes in all: it cannot use up the task limit it shares with the
		// host. (A plugin of a root host runs as root, which no such limit binds.)
		if got := res.Attempts["tasks:start more tasks than the sandbox grants"]; !strings.HasPrefix(got, "denied: stopped after ") {
			t.Errorf("start 600 tasks: %q, want it stopped short of %d", got, sandbox.MaxTasks)
		}
	})
	t.Run("host as root, plugins as plugin_user", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("plugin_user needs a host running as root")
		}
		res, secrets := hostileRun(t, nil, "", "nobody")
		checkContained(t, res, secrets)
		if u := nobody(t); res.Attempts["info:uid"] != strconv.Itoa(int(u.UID)) {
			t.Errorf("plugin ran as uid %s, want nobody's %d", res.Attempts["info:uid"], u.UID)
		}
	})
}

// In egress mode open the plugin connects out directly, but still not to
// idplug's own listeners nor to anything local through the file system.
func TestEgressOpenStillKeepsLocalServicesOut(t *testing.T) {
	requireFullSandbox(t)
	as := nobody(t)
	res, secrets := hostileRunEgress(t, as, "", "", sandbox.EgressOpen)
	if res.Sandbox.Egress != sandbox.EgressOpen || res.Sandbox.Has(sandbox.FeatureEgress) {
		t.Fatalf("report = %+v", res.Sandbox)
	}
	if _, ok := res.Attempts["deny:connect idplug's listener through the egress proxy"]; ok {
		t.Errorf("a proxy was offered in egress mode open: %v", res.Attempts)
	}
	checkContained(t, res, secrets)
	if got := res.Attempts["allow:send data to a TCP address"]; got != "allowed" {
		t.Errorf("egress open: direct TCP = %q", got)
	}
}

// With the sandbox off, the same plugin reaches what the sandbox kept from it:
// the hostile test above fails for the right reason when confinement is missing.
func TestSandboxOffLetsThePluginThrough(t *testing.T) {
	t.Cleanup(func() { _ = os.Remove("/tmp/hostile-was-here") }) // it got out
	res, _ := hostileRun(t, nil, sandbox.ModeOff, "")
	for _, what := range []string{"deny:read key file", "deny:read another plugin's file", "deny:bind tcp", "deny:list /tmp",
		"deny:ptrace host", "deny:read host memory", "deny:read host environ", execOwnCopy,
		"deny:exec a memfd copy of itself", "deny:connect a named socket outside its folder",
		"deny:sign in to PostgreSQL on its Unix socket", "deny:connect idplug's listener", "allow:send data to a TCP address"} {
		if res.Attempts[what] != "allowed" {
			t.Errorf("with the sandbox off, %s = %q, want allowed", what, res.Attempts[what])
		}
	}
	if res.Sandbox.Mode != sandbox.ModeOff || len(res.Sandbox.Applied) != 0 {
		t.Errorf("report = %+v", res.Sandbox)
	}
}
