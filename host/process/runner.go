package process

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"strconv"
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
func (r *cmdRunner) PluginToHost(n, a string) (string, string, error) { return n, a, nil }
func (r *cmdRunner) HostToPlugin(n, a string) (string, string, error) { return n, a, nil }
