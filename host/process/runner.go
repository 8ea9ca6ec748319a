package process

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"github.com/idplug/idplug/internal/printable"
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
	// the plugin's handshake may name.
	socketDir string
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
	return network, addr, nil
}
