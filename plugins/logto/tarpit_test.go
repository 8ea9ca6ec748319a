package main

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/idplug/idplug/host/sandbox"
	"github.com/idplug/idplug/sdk"
)

// TestPendingConnectionsEndWithTheirRequest: through idplug's egress proxy a
// provider connection is a tunnel and then a TLS handshake, made by the bridge
// outside the reach of the request that asked for it. A provider that took the
// connection and never finished the handshake kept its tunnel open after the call
// had ended: until the proxy's idle timeout, or for good while it sent a byte now
// and then, and the proxy's 256 tunnels per plugin, so held, left every instance of
// the plugin without a connection. A connection not made by the time its request
// must end is closed.
func TestPendingConnectionsEndWithTheirRequest(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	accepted, closed := make(chan struct{}, 8), make(chan struct{}, 8)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- struct{}{}
			go func() { // reads the ClientHello and answers nothing
				_, _ = io.Copy(io.Discard, c)
				_ = c.Close()
				closed <- struct{}{}
			}()
		}
	}()
	o := startOAuthStub(t, map[string]any{"tokenEndpoint": "https://" + ln.Addr().String() + "/token"}, 3*time.Second)
	if egress := o.h.Sandbox().Egress; egress != sandbox.EgressProxy {
		t.Skipf("the sandbox's egress is %q here: the bridge connects through idplug's proxy only in egress mode proxy", egress)
	}
	_, cb, err := o.signIn(t)
	wantCode(t, "a provider that never finishes the TLS handshake", err, sdk.CodeProviderTimeout)
	noLeak(t, "a provider that never finishes the TLS handshake", err, oauthStubSecret, cb)
	select {
	case <-accepted:
	default:
		t.Fatal("the provider was never connected to")
	}
	select {
	case <-closed:
	case <-time.After(2 * time.Second):
		t.Fatal("the connection to the provider was still open 2 s after its call had ended")
	}
}
