package process

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/idplug/idplug/internal/printable"
	"golang.org/x/sys/unix"
)

// cmdRunner runs the launcher command for go-plugin (its RunnerFunc), in place of
// go-plugin's own runner, which would execute the plugin by path.
type cmdRunner struct {
	cmd            *exec.Cmd
	name           string
	stdout, stderr io.ReadCloser
	pid            int
	// onExit (the plugin's egress proxy) is closed once the process is gone.
	onExit io.Closer
	// socketDir is the folder go-plugin made for this start, the only place
	// the plugin's handshake may name; addr is the socket it named there.
	socketDir, addr string
}

func newCmdRunner(cmd *exec.Cmd, name string) (*cmdRunner, error) {
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	return &cmdRunner{cmd: cmd, name: name, stdout: stdout, stderr: newSaneStderr(stderr)}, nil
}

func (r *cmdRunner) Start(context.Context) error {
	if err := r.cmd.Start(); err != nil {
		r.exited()
		return err
	}
	r.pid = r.cmd.Process.Pid
	return nil
}

func (r *cmdRunner) Wait(context.Context) error {
	defer r.exited()
	return r.cmd.Wait()
}

func (r *cmdRunner) exited() {
	if r.onExit != nil {
		_ = r.onExit.Close()
	}
}

func (r *cmdRunner) Kill(context.Context) error {
	if r.cmd.Process == nil {
		return nil
	}
	if err := r.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	return nil
}

func (r *cmdRunner) Stdout() io.ReadCloser                            { return r.stdout }
func (r *cmdRunner) Stderr() io.ReadCloser                            { return r.stderr }
func (r *cmdRunner) Name() string                                     { return r.name }
func (r *cmdRunner) Diagnose(context.Context) string                  { return "" }
func (r *cmdRunner) ID() string                                       { return strconv.Itoa(r.pid) }
func (r *cmdRunner) HostToPlugin(n, a string) (string, string, error) { return n, a, nil }

// PluginToHost checks the address the plugin's handshake names, which the host
// then dials from its own network and file system: a socket in the folder made
// for this start, and nothing else. Otherwise a plugin with no way out could name
// a server of its author's (over TCP, or another Unix socket) holding the key of
// the certificate it sent, and the host would send that server every call, the
// operator's configuration with them.
func (r *cmdRunner) PluginToHost(network, addr string) (string, string, error) {
	if network != "unix" || r.socketDir == "" || filepath.Dir(filepath.Clean(addr)) != filepath.Clean(r.socketDir) {
		return "", "", fmt.Errorf("its handshake names %s address %s, not a socket in the folder made for it",
			printable.Line(printable.Cut(network, 16)), strconv.Quote(printable.Cut(addr, 200)))
	}
	// Lstat: a link the plugin made there could point anywhere.
	if info, err := os.Lstat(addr); err != nil || info.Mode().Type() != fs.ModeSocket {
		return "", "", fmt.Errorf("its handshake names %s, which is not a socket it made", strconv.Quote(printable.Cut(addr, 200)))
	}
	r.addr = addr
	return network, addr, nil
}

// dialPlugin connects to the socket the handshake named and checks, on the
// connection itself, that the plugin's process listens there: between the
// check of the path above and the dial, a plugin without Landlock could have
// put a link to another socket in its place (a database's, say), and the host
// would have sent it the plugin's calls.
func (r *cmdRunner) dialPlugin(ctx context.Context) (net.Conn, error) {
	if r == nil || r.addr == "" {
		return nil, errors.New("the plugin's handshake named no socket")
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", r.addr)
	if err != nil {
		return nil, err
	}
	if err := checkPeer(c, r.pid); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// checkPeer says whether process pid listens at the other end of c, by the
// credentials the kernel kept when c connected (SO_PEERCRED).
func checkPeer(c net.Conn, pid int) error {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return errors.New("the plugin's connection is no Unix socket")
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return err
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return err
	}
	if credErr != nil {
		return fmt.Errorf("the plugin's socket: %w", credErr)
	}
	// The plugin is the launcher's process, or its child where the launcher
	// had to fork to enter a PID namespace of its own (a host that is not root).
	if int(cred.Pid) != pid && parentOf(int(cred.Pid)) != pid {
		return fmt.Errorf("the socket its handshake names is held by process %d, not the plugin (%d)", cred.Pid, pid)
	}
	return nil
}

// parentOf is process pid's parent, or 0 when it cannot be read.
func parentOf(pid int) int {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// pid (comm) state ppid ...: comm may hold anything, so after its last ")".
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0
	}
	fields := strings.Fields(string(stat[i+1:]))
	if len(fields) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(fields[1])
	return ppid
}
