package main

import (
	"errors"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/idplug/idplug/internal/plugintest"
)

// TestDemoEndsCleanlyOnCtrlC runs `make run`'s demo, checks that no file of it holds
// the provider's client secret, then interrupts it as Ctrl-C does: the script exits
// 0 (so make reports no error) and takes idplug and the provider with it.
func TestDemoEndsCleanlyOnCtrlC(t *testing.T) {
	root, err := plugintest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	base, cmd, dir := launchDemo(t, root)

	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		// idplug.yaml, the store idplug keeps beside it (idplug.db and its journal)
		// and the session key the store is sealed under, kept for the next run.
		if e.Name() != "idplug.yaml" && e.Name() != "session-key" && !strings.HasPrefix(e.Name(), "idplug.db") {
			t.Errorf("the demo wrote %s; the provider's configuration (with the client secret) must stay out of files", e.Name())
		}
	}
	yaml, err := os.ReadFile(dir + "/idplug.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(yaml), "clientSecret: ${IDPLUG_DEMO_CLIENT_SECRET}") {
		t.Errorf("idplug.yaml should name the client secret's variable, not hold its value:\n%s", yaml)
	}

	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("after Ctrl-C the demo ended with %v; want exit status 0", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the demo did not end within 30s of Ctrl-C")
	}
	// The script waited for idplug before exiting: its port is free again.
	conn, err := net.DialTimeout("tcp", u.Host, 2*time.Second)
	if err == nil {
		conn.Close()
		t.Errorf("idplug still listens on %s after the demo ended", u.Host)
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Logf("dialing %s: %v", u.Host, err)
	}
}
