// Package containertest runs idplug's images on a real Docker engine for tests:
// it finds or starts the engine (scripts/docker-engine), builds the images once
// per test process (scripts/build-image), and runs containers on the host's
// network, each removed when its test ends.
//
// Without an engine that answers or can be started, a test is skipped saying so,
// unless CI=true: there it fails (.ci/run installs the Debian package docker.io).
// A test binary that uses it calls Main from TestMain, so that an engine it
// started is stopped when the tests end.
package containertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	engineTimeout = 3 * time.Minute
	buildTimeout  = 20 * time.Minute
	dockerTimeout = 2 * time.Minute
)

// Engine is a Docker engine that answers.
type Engine struct {
	// Host is its DOCKER_HOST.
	Host string
	root string
}

var (
	engineOnce sync.Once
	engine     *Engine
	engineErr  error
	started    bool

	buildMu sync.Mutex
	built   = map[string]bool{}
)

// Main runs the tests and then stops an engine that Start started.
func Main(m *testing.M) {
	code := m.Run()
	if started {
		ctx, cancel := context.WithTimeout(context.Background(), engineTimeout)
		cmd := exec.CommandContext(ctx, filepath.Join(engine.root, "scripts", "docker-engine"), "stop")
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "containertest: stopping the engine: %v\n%s", err, out)
		}
		cancel()
	}
	os.Exit(code)
}

// Start returns the engine, started for this test process if none answers.
func Start(t testing.TB) *Engine {
	t.Helper()
	engineOnce.Do(func() { engine, engineErr = startEngine() })
	if engineErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("containertest: no Docker engine: %v", engineErr)
		}
		t.Skipf("containertest: no Docker engine, skipping (install docker.io and run as root, or set DOCKER_HOST): %v", engineErr)
	}
	return engine
}

func startEngine() (*Engine, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), engineTimeout)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", "docker-engine"), "start")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("scripts/docker-engine start: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	host, ok := strings.CutPrefix(lines[0], "DOCKER_HOST=")
	if !ok {
		return nil, fmt.Errorf("scripts/docker-engine start printed %q", out)
	}
	started = len(lines) > 1 && lines[1] == "started"
	return &Engine{Host: host, root: root}, nil
}

// repoRoot is the checkout's root: the nearest folder up with scripts/build-image.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "scripts", "build-image")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no scripts/build-image above the working folder")
		}
		dir = parent
	}
}

// Image builds the named image (idplug or idplug-logto) once per test process,
// with scripts/build-image, and returns its tag.
func (e *Engine) Image(t testing.TB, name string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if !built[name] {
		ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(e.root, "scripts", "build-image"), name)
		cmd.Dir = e.root
		cmd.Env = append(os.Environ(), "DOCKER_HOST="+e.Host)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("scripts/build-image %s: %v\n%s", name, err, out)
		}
		built[name] = true
	}
	return name + ":latest"
}

// Docker runs a docker command against the engine and returns its standard output.
func (e *Engine) Docker(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, dockerTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+e.Host)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("docker %s: %v: %s", args[0], err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// Root is the checkout's root folder.
func (e *Engine) Root() string { return e.root }

// DockerCombined runs a docker command and returns its output and errors together.
func (e *Engine) DockerCombined(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, dockerTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+e.Host)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func readFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	return string(b), err
}
