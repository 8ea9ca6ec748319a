package process

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The host dials the socket a plugin's handshake names only once its path was
// checked, and a plugin without Landlock could put a link to another socket
// (a database's) in its place in between: the connection itself is checked to
// be held by the plugin's process (the kernel's SO_PEERCRED), or its child.
func TestPluginSocketMustBeHeldByThePlugin(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "plugin.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	dial := func(pid int) error {
		r := &cmdRunner{socketDir: dir, addr: path, pid: pid}
		c, err := r.dialPlugin(t.Context())
		if err == nil {
			c.Close()
		}
		return err
	}
	if err := dial(os.Getpid()); err != nil {
		t.Fatalf("the process that listens: %v", err)
	}
	// As for the plugin's launcher: the process that listens is its child.
	if err := dial(os.Getppid()); err != nil {
		t.Fatalf("the launcher's child listens: %v", err)
	}
	// Another process, of which this one is neither nor a child.
	other := exec.Command("sleep", "60")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = other.Process.Kill(); _ = other.Wait() }()
	if err := dial(other.Process.Pid); err == nil || !strings.Contains(err.Error(), "not the plugin") {
		t.Fatalf("another process's socket: %v, want it refused", err)
	}
}
