package containertest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

const readyTimeout = 90 * time.Second

// Mount is a bind mount of a host path, or a tmpfs when Source is empty.
type Mount struct {
	Source, Target string
	ReadOnly       bool
}

// Spec is a container to run. It always uses the host's network: tests reach
// it, and it reaches the test's servers, on loopback.
type Spec struct {
	Image string
	// Entrypoint and Cmd replace the image's when set.
	Entrypoint []string
	Cmd        []string
	// User is "uid:gid"; empty keeps the image's.
	User string
	// GroupAdd are supplementary groups (a pod's fsGroup).
	GroupAdd       []string
	ReadOnlyRootFS bool
	Mounts         []Mount
	Env            []string
	// SecurityOpt are --security-opt values (the engine's default seccomp
	// profile applies when empty).
	SecurityOpt []string
	// CapDrop are capabilities to drop ("ALL").
	CapDrop []string
}

// Container is a running container, removed when the test ends.
type Container struct {
	ID string
	e  *Engine
}

// Run starts a container and removes it (and its anonymous volumes) when the
// test ends.
func (e *Engine) Run(t testing.TB, s Spec) *Container {
	t.Helper()
	args := []string{"run", "-d", "--network", "host"}
	if s.User != "" {
		args = append(args, "--user", s.User)
	}
	for _, g := range s.GroupAdd {
		args = append(args, "--group-add", g)
	}
	if s.ReadOnlyRootFS {
		args = append(args, "--read-only")
	}
	for _, m := range s.Mounts {
		if m.Source == "" {
			args = append(args, "--tmpfs", m.Target)
			continue
		}
		v := m.Source + ":" + m.Target
		if m.ReadOnly {
			v += ":ro"
		}
		args = append(args, "-v", v)
	}
	for _, env := range s.Env {
		args = append(args, "-e", env)
	}
	for _, o := range s.SecurityOpt {
		args = append(args, "--security-opt", o)
	}
	for _, c := range s.CapDrop {
		args = append(args, "--cap-drop", c)
	}
	if len(s.Entrypoint) > 0 {
		args = append(args, "--entrypoint", s.Entrypoint[0])
	}
	args = append(args, s.Image)
	args = append(args, s.Entrypoint[min(1, len(s.Entrypoint)):]...)
	args = append(args, s.Cmd...)
	id, err := e.Docker(context.Background(), args...)
	if err != nil {
		t.Fatal(err)
	}
	c := &Container{ID: id, e: e}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("container %s log:\n%s", c.ID[:12], c.Logs())
		}
		_, _ = e.Docker(context.Background(), "rm", "-f", "-v", c.ID)
	})
	return c
}

// Logs returns what the container wrote so far.
func (c *Container) Logs() string {
	out, err := c.e.DockerCombined(context.Background(), "logs", c.ID)
	if err != nil {
		return err.Error()
	}
	return out
}

// Pid is the host's process id of the container's first process.
func (c *Container) Pid(t testing.TB) int {
	t.Helper()
	out, err := c.e.Docker(context.Background(), "inspect", "-f", "{{.State.Pid}}", c.ID)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(out)
	if err != nil || pid == 0 {
		t.Fatalf("container %s has no process (%q): %s", c.ID[:12], out, c.Logs())
	}
	return pid
}

// Running reports whether the container still runs.
func (c *Container) Running() bool {
	out, err := c.e.Docker(context.Background(), "inspect", "-f", "{{.State.Running}}", c.ID)
	return err == nil && out == "true"
}

// Stop sends SIGTERM (docker stop), SIGKILL after grace, and returns the exit code.
func (c *Container) Stop(t testing.TB, grace time.Duration) int {
	t.Helper()
	if _, err := c.e.Docker(context.Background(), "stop", "-t", strconv.Itoa(int(grace.Seconds())), c.ID); err != nil {
		t.Fatal(err)
	}
	out, err := c.e.Docker(context.Background(), "inspect", "-f", "{{.State.ExitCode}}", c.ID)
	if err != nil {
		t.Fatal(err)
	}
	code, _ := strconv.Atoi(out)
	return code
}

// WaitReady polls url (a /readyz) until it answers 200, failing the test when the
// container exits first or readyTimeout passes. It returns the last body.
func (c *Container) WaitReady(t testing.TB, url string) string {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(readyTimeout)
	last := ""
	for {
		resp, err := client.Get(url)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			last = fmt.Sprintf("%d %s", resp.StatusCode, body)
			if resp.StatusCode == http.StatusOK {
				return string(body)
			}
		} else {
			last = err.Error()
		}
		if !c.Running() {
			t.Fatalf("container %s exited before %s answered 200 (last: %s); log:\n%s", c.ID[:12], url, last, c.Logs())
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer 200 within %s (last: %s)", url, readyTimeout, last)
		}
		// Polling a condition that has no event to wait on: the container's start.
		time.Sleep(50 * time.Millisecond)
	}
}

// HostUID returns the real uid of a host process (the container's, seen from
// outside), from /proc.
func HostUID(t testing.TB, pid int) string {
	t.Helper()
	status, err := readFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(status, "\n") {
		if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
			return strings.Fields(rest)[0]
		}
	}
	t.Fatalf("no Uid in /proc/%d/status", pid)
	return ""
}

// Wait waits for the container to exit and returns its exit code.
func (c *Container) Wait(t testing.TB) int {
	t.Helper()
	out, err := c.e.Docker(context.Background(), "wait", c.ID)
	if err != nil {
		t.Fatal(err)
	}
	code, err := strconv.Atoi(out)
	if err != nil {
		t.Fatalf("docker wait: %q", out)
	}
	return code
}

// Remove removes the container now, rather than when the test ends.
func (c *Container) Remove(t testing.TB) {
	t.Helper()
	if _, err := c.e.Docker(context.Background(), "rm", "-f", "-v", c.ID); err != nil {
		t.Fatal(err)
	}
}
