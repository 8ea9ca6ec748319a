// Package pgtest runs a real PostgreSQL server for tests: initdb into a
// temporary folder, postgres listening only on 127.0.0.1 on a free port with its
// unix socket in that folder, stopped when the test ends.
//
// PostgreSQL refuses to run as root; when the tests run as root, the data
// folder is given to the unprivileged user nobody and the server runs as it.
//
// A test is skipped when the PostgreSQL binaries are missing, unless CI=true:
// there a missing server fails the test (scripts/setup installs it).
package pgtest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/idplug/idplug/internal/testport"
)

const (
	startTimeout = 60 * time.Second
	stopTimeout  = 30 * time.Second
)

// Server is a running PostgreSQL server.
type Server struct {
	// URL reaches the database "idplug" as the superuser "idplug", over TCP.
	URL  string
	Port int

	t       testing.TB
	bin     string
	dataDir string
	sockDir string
	cred    *syscall.Credential

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed once cmd has exited and been waited for
	log    *bytes.Buffer
}

// Bin finds the PostgreSQL binaries folder, or "" when none is installed.
func Bin() string {
	if dir := os.Getenv("IDPLUG_PG_BIN"); dir != "" {
		return dir
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(found) == 0 {
		if p, err := exec.LookPath("initdb"); err == nil {
			return filepath.Dir(p)
		}
		return ""
	}
	sort.Strings(found)
	return filepath.Dir(found[len(found)-1])
}

// Start initializes and starts a server for the test, stopped in t.Cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := Bin()
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("pgtest: PostgreSQL is not installed (initdb not found); scripts/setup installs the Debian package postgresql")
		}
		t.Skip("pgtest: PostgreSQL is not installed (initdb not found); run scripts/setup")
	}
	root, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	s := &Server{t: t, bin: bin, dataDir: filepath.Join(root, "data"), sockDir: filepath.Join(root, "sock")}
	for _, d := range []string{s.dataDir, s.sockDir} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if os.Geteuid() == 0 {
		s.cred = unprivileged(t)
		for _, d := range []string{root, s.dataDir, s.sockDir} {
			if err := os.Chown(d, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
				t.Fatal(err)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	initdb := s.command(ctx, "initdb", "-D", s.dataDir, "-U", "idplug", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C")
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("pgtest: initdb: %v\n%s", err, out)
	}
	s.Port = testport.Free(t)
	s.URL = fmt.Sprintf("postgres://idplug@127.0.0.1:%d/idplug?sslmode=disable", s.Port)
	s.Restart()
	t.Cleanup(s.Stop)
	createdb := s.command(ctx, "createdb", "-h", s.sockDir, "-p", strconv.Itoa(s.Port), "-U", "idplug", "idplug")
	if out, err := createdb.CombinedOutput(); err != nil {
		t.Fatalf("pgtest: createdb: %v\n%s", err, out)
	}
	return s
}

// Socket is the path of the server's Unix socket, where the superuser idplug
// signs in with trust authentication (as peer or trust often is on one machine).
func (s *Server) Socket() string {
	return filepath.Join(s.sockDir, ".s.PGSQL."+strconv.Itoa(s.Port))
}

// Restart starts the server again after Stop or Kill, on the same port and data.
func (s *Server) Restart() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		s.t.Fatal("pgtest: the server is already running")
	}
	s.log = &bytes.Buffer{}
	cmd := s.command(context.Background(), "postgres", "-D", s.dataDir,
		"-h", "127.0.0.1", "-p", strconv.Itoa(s.Port), "-k", s.sockDir,
		// fsync off: only the operating system crashing could lose data, and
		// tests kill the server, never the machine. Commits stay synchronous,
		// so what a kill takes away was never acknowledged.
		"-c", "fsync=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200", "-c", "shared_buffers=32MB")
	cmd.Stdout, cmd.Stderr = s.log, s.log
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	// Its own process group, so that Kill takes the postmaster and every
	// backend at once, as a crash of the machine's database would.
	cmd.SysProcAttr.Setpgid = true
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("pgtest: start postgres: %v", err)
	}
	s.cmd = cmd
	// A postgres that exits (its port taken, say) fails the test at once, with
	// its log, rather than after startTimeout.
	exited := make(chan struct{})
	s.exited = exited
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	deadline := time.After(startTimeout)
	for {
		// Asked on its own socket, where a server another test runs on the
		// port cannot answer; postgres has bound its TCP port before it
		// accepts connections anywhere.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := s.command(ctx, "pg_isready", "-q", "-h", s.sockDir, "-p", strconv.Itoa(s.Port)).Run()
		cancel()
		if err == nil {
			return
		}
		select {
		case <-exited:
			s.cmd = nil
			s.t.Fatalf("pgtest: postgres exited before it was ready (%v):\n%s", waitErr, s.log.String())
		case <-deadline:
			s.t.Fatalf("pgtest: postgres not ready after %s:\n%s", startTimeout, s.log.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Kill stops the server with SIGKILL, as a crash would.
func (s *Server) Kill() { s.stop(syscall.SIGKILL) }

// Stop stops the server (fast shutdown) and waits for it.
func (s *Server) Stop() { s.stop(syscall.SIGINT) }

func (s *Server) stop(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	if sig == syscall.SIGKILL {
		_ = syscall.Kill(-s.cmd.Process.Pid, sig)
	} else {
		_ = s.cmd.Process.Signal(sig)
	}
	select {
	case <-s.exited:
	case <-time.After(stopTimeout):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	if sig == syscall.SIGKILL {
		// Wait until every process of the group is gone (reaped by init),
		// so that a restart finds the data folder free.
		deadline := time.Now().Add(stopTimeout)
		for syscall.Kill(-s.cmd.Process.Pid, 0) == nil && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	s.cmd = nil
}

func (s *Server) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(s.bin, name), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.Dir = filepath.Dir(s.dataDir)
	return cmd
}

// unprivileged returns the credentials of the user nobody.
func unprivileged(t testing.TB) *syscall.Credential {
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Fatalf("pgtest: running as root and no user nobody to run PostgreSQL as: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}
}
