package host_test

import (
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/internal/plugintest"
)

// A plugin's handshake names the address the host dials, from the host's own
// network and file system. A sandboxed plugin with no way out named a server
// of its author's (here a Unix socket beside its file; TCP worked the same),
// with the certificate of that server: the host dialed it and sent it every
// call, the operator's client secret with them. Only a socket in the folder
// made for the start is dialed now; the start fails and nothing connects.
func TestHandshakeMayNameOnlyThePluginsOwnSocket(t *testing.T) {
	dir := plugintest.Folder(t)
	plugintest.Install(t, dir, plugintest.Binary(t, "./host/testdata/elsewhere"), "elsewhere")
	ln, err := net.Listen("unix", filepath.Join(dir, "elsewhere.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var dialed atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			dialed.Add(1)
			c.Close()
		}
	}()

	h := open(t, dir, host.Options{StartTimeout: 20 * time.Second})
	if got := refusal(h, "elsewhere"); !strings.Contains(got, "not a socket in the folder made for it") {
		t.Errorf("refused for %q; want the handshake's address named as not the plugin's own socket", got)
	}
	if n := dialed.Load(); n != 0 {
		t.Fatalf("the host dialed the address the plugin named %d times", n)
	}
}
