// Command hostile is a connector plugin that tries to escape its sandbox, for the
// host's tests. Its authorization call attempts every escape its config names and
// returns what happened in the session, one entry per attempt: keys starting with
// "deny:" are escapes (the value must start with "denied"), keys starting with
// "allow:" are what a plugin needs (the value must be "allowed"), so a sandbox that
// breaks everything fails the test too. Its user info call fails with any error
// code the callback names, for the tests of what the host does with a code.
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	connectorv1 "github.com/idplug/idplug/proto/gen/idplug/connector/v1"
	"github.com/idplug/idplug/sdk"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// copyArg makes a run of the plugin's copy (see runOwnCopy) exit at once.
const copyArg = "hostile-copy"

func main() {
	if len(os.Args) > 1 && os.Args[1] == copyArg {
		return // the copy ran: that was the escape
	}
	sdk.Serve(connector{})
}

// config names the targets. HostPID defaults to the plugin's parent.
type config struct {
	HostPID        int               `json:"hostPid"`
	Read           map[string]string `json:"read"`  // what -> path
	Write          []string          `json:"write"` // folders to create a file in
	OtherSocket    string            `json:"otherSocket"`
	AbstractSocket string            `json:"abstractSocket"`
	// Connect is a TCP address that no config names: the plugin sends data to
	// it, directly and through the egress proxy. ConnectAllowed says it must work
	// (egress mode open or the sandbox off).
	Connect        string `json:"connect"`
	ConnectAllowed bool   `json:"connectAllowed"`
	// HostListener is a TCP address standing in for idplug's own listener.
	HostListener string `json:"hostListener"`
	// NamedSocket is a named Unix socket outside the plugin's folder (a bait
	// standing in for PostgreSQL's); PostgresSocket a real PostgreSQL's, with
	// trust authentication for the user idplug.
	NamedSocket    string `json:"namedSocket"`
	PostgresSocket string `json:"postgresSocket"`
	// ProviderURL is a provider its config names: reachable through the proxy.
	ProviderURL string `json:"providerUrl"`
	// HostShmKey and HostQueue are a SysV shared memory segment and a POSIX
	// message queue of the host's, mode 0600; HostNamespaces the host's
	// namespaces by name ("ipc": "ipc:[4026531839]").
	HostShmKey     int               `json:"hostShmKey"`
	HostQueue      string            `json:"hostQueue"`
	HostNamespaces map[string]string `json:"hostNamespaces"`
}

type connector struct{}

func (connector) Metadata() sdk.Metadata {
	return sdk.Metadata{
		ID: "hostile", Target: "hostile", Platform: sdk.PlatformUniversal,
		Name:        sdk.I18n{"en": "Hostile"},
		Description: sdk.I18n{"en": "Tries to escape its sandbox."},
		IsStandard:  true,
	}
}

func (connector) ParseConfig(raw []byte) (config, error) {
	var cfg config
	err := json.Unmarshal(raw, &cfg)
	return cfg, err
}

// UserInfo fails with the error code the callback's errorCode names, when it
// names one: a plugin chooses the codes it answers with, made-up ones too.
func (connector) UserInfo(_ context.Context, _ config, req sdk.UserInfoRequest) (*sdk.UserInfoResult, error) {
	if code, ok := req.Callback["errorCode"]; ok {
		return nil, &sdk.Error{Code: sdk.ErrorCode(code), Message: "a code of the plugin's choosing"}
	}
	return &sdk.UserInfoResult{UserInfo: sdk.UserInfo{ID: "hostile"}}, nil
}

func (connector) AuthorizationURI(ctx context.Context, cfg config, req sdk.AuthorizationRequest) (*sdk.Authorization, error) {
	r := sdk.Session{}
	try := func(key string, err error) {
		if err != nil {
			r[key] = "denied: " + err.Error()
		} else {
			r[key] = "allowed"
		}
	}
	host := cfg.HostPID
	if host == 0 {
		host = os.Getppid()
	}
	r["info:uid"] = strconv.Itoa(outsideUID())
	inheritedDescriptors(r)
	proc := "/proc/" + strconv.Itoa(host)
	try("deny:read host environ", readSome(proc+"/environ"))
	try("deny:read host cmdline", readSome(proc+"/cmdline"))
	try("deny:read host status", readSome(proc+"/status"))
	try("deny:list /proc", listSome("/proc"))
	try("deny:list /tmp", listSome("/tmp"))
	try("deny:read /etc/passwd", readSome("/etc/passwd"))
	for what, path := range cfg.Read {
		try("deny:read "+what, readSome(path))
	}
	for _, dir := range append([]string{"/tmp"}, cfg.Write...) {
		try("deny:write in "+dir, os.WriteFile(filepath.Join(dir, "hostile-was-here"), []byte("x"), 0o644))
	}
	try("deny:hold a Landlock ruleset", landlockRuleset())
	try("deny:bind tcp", listenTCP(false))
	try("deny:bind multipath tcp", listenTCP(true))
	try("deny:signal host", syscall.Kill(host, 0))
	try("deny:ptrace host", ptrace(host))
	try("deny:read host memory", readMemory(host))
	try("deny:run /bin/sh", exec.Command("/bin/sh", "-c", "true").Run())
	// The copy must exist for its refusal to mean anything: when it cannot be
	// made, the attempt reports neither denied nor allowed, and the test fails.
	const execCopy = "deny:exec a copy of itself from the socket folder"
	if copyPath, err := copySelf(os.Getenv("PLUGIN_UNIX_SOCKET_DIR")); err != nil {
		r[execCopy] = "not tried: " + err.Error()
	} else {
		try(execCopy, runCopy(copyPath))
		_ = os.Remove(copyPath)
	}
	if cfg.OtherSocket != "" {
		try("deny:call another plugin", callOther(ctx, cfg.OtherSocket))
	}
	if cfg.AbstractSocket != "" {
		try("deny:connect abstract socket", dialClose("unix", "@"+cfg.AbstractSocket))
	}

	try("deny:exec a memfd copy of itself", execMemfd())
	kernelAttempts(r, cfg)
	// Checked where a limit applies (a host that is not root): see the test.
	try("tasks:start more tasks than the sandbox grants", startTasks())
	if cfg.NamedSocket != "" {
		try("deny:connect a named socket outside its folder", sendUnix(cfg.NamedSocket))
	}
	if cfg.PostgresSocket != "" {
		try("deny:sign in to PostgreSQL on its Unix socket", postgresStartup(cfg.PostgresSocket))
	}
	if cfg.HostListener != "" {
		try("deny:connect idplug's listener", sendTCP(ctx, cfg.HostListener, ""))
		if proxy := os.Getenv(egressEnv); proxy != "" {
			try("deny:connect idplug's listener through the egress proxy", sendTCP(ctx, cfg.HostListener, proxy))
		}
	}
	if cfg.Connect != "" {
		what := "deny:send data to a TCP address no config names"
		if cfg.ConnectAllowed {
			what = "allow:send data to a TCP address"
		}
		try(what, sendTCP(ctx, cfg.Connect, ""))
		if proxy := os.Getenv(egressEnv); proxy != "" {
			try("deny:send data to a TCP address no config names through the egress proxy", sendTCP(ctx, cfg.Connect, proxy))
		}
	}

	if proxy := os.Getenv(egressEnv); proxy != "" && cfg.ProviderURL != "" {
		u, err := url.Parse(cfg.ProviderURL)
		if err != nil {
			return nil, err
		}
		try("allow:reach the provider its config names through the egress proxy", sendTCP(ctx, u.Host, proxy))
	}

	try("allow:write in own socket folder", os.WriteFile(filepath.Join(os.Getenv("PLUGIN_UNIX_SOCKET_DIR"), "scratch"), []byte("x"), 0o600))
	try("allow:read CA certificates", listSome("/etc/ssl/certs"))
	try("allow:read own /proc/self/status", readSome("/proc/self/status"))
	return &sdk.Authorization{RedirectTo: "https://idp.test/authorize?state=" + req.State, Session: r}, nil
}

// copySelf writes the plugin's own executable into dir, as a program there.
func copySelf(dir string) (string, error) {
	self, err := os.ReadFile("/proc/self/exe")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "hostile-copy")
	return path, os.WriteFile(path, self, 0o755)
}

// runCopy runs the copy copySelf made: a folder the plugin may write must not
// be one it may execute from.
func runCopy(path string) error {
	var err error
	for range 50 {
		err = exec.Command(path, copyArg).Run()
		// ETXTBSY: a fork elsewhere in the process still held the copy open for
		// writing; the exec itself was not refused.
		if !errors.Is(err, syscall.ETXTBSY) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
	return err
}

func readSome(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.Read(make([]byte, 64))
	return err
}

func listSome(dir string) error {
	_, err := os.ReadDir(dir)
	return err
}

func listenTCP(multipath bool) error {
	var lc net.ListenConfig
	lc.SetMultipathTCP(multipath)
	l, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	return l.Close() // listening worked: an escape, reported as allowed
}

// ptrace attaches to pid and, when that works (the sandbox is off), lets it go
// again at once: every ptrace request comes from one thread, and the attach's
// SIGSTOP is consumed before the detach, so the host is not left stopped.
func ptrace(pid int) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := syscall.PtraceAttach(pid); err != nil {
		return err
	}
	for {
		var ws syscall.WaitStatus
		if _, err := syscall.Wait4(pid, &ws, unix.WALL, nil); err != nil {
			return nil // attached: that was the escape
		}
		if !ws.Stopped() {
			return nil
		}
		if ws.StopSignal() == syscall.SIGSTOP {
			_ = syscall.PtraceDetach(pid)
			return nil
		}
		_ = syscall.PtraceCont(pid, int(ws.StopSignal())) // another signal came first: deliver it
	}
}

// readMemory reads a byte of pid's memory at the start of a non-PIE Go binary's
// text, without stopping it.
func readMemory(pid int) error {
	buf := make([]byte, 1)
	local := []unix.Iovec{{Base: &buf[0], Len: 1}}
	remote := []unix.RemoteIovec{{Base: 0x401000, Len: 1}}
	_, err := unix.ProcessVMReadv(pid, local, remote, 0)
	return err
}

func dialClose(network, addr string) error {
	c, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}

// callOther asks another plugin for its metadata over its socket. Only the host
// holds the client certificate that plugin accepts.
func callOther(ctx context.Context, socket string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	creds := credentials.NewTLS(&tls.Config{InsecureSkipVerify: true}) //nolint:gosec // an attacker's client
	cc, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(creds))
	if err != nil {
		return err
	}
	defer cc.Close()
	_, err = connectorv1.NewConnectorServiceClient(cc).GetMetadata(ctx, &connectorv1.GetMetadataRequest{}, grpc.WaitForReady(false))
	return err
}

// landlockRuleset looks for a Landlock ruleset among the plugin's open
// descriptors: the host shares one among its plugins' launchers, and a plugin
// holding it could add rules to what the plugins started after it get.
func landlockRuleset() error {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return err
	}
	for _, e := range entries {
		if target, _ := os.Readlink("/proc/self/fd/" + e.Name()); strings.Contains(target, "landlock") {
			return nil
		}
	}
	return errors.New("no Landlock ruleset among its descriptors")
}
