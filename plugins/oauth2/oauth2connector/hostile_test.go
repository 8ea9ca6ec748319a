package oauth2connector

// A hostile identity provider against the OAuth 2.0 connector.

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/idplug/idplug/sdk"
)

// A token endpoint that answers "101 Switching Protocols" and then goes quiet
// holds UserInfo forever: neither requestTimeout nor the host's call deadline
// (the context) ends the read of a 101's connection, so the sign-in never
// returns and the plugin keeps a goroutine and a connection per attempt.
func TestSignInAgainstASwitchingProtocolsTokenEndpoint(t *testing.T) {
	p := newStubProvider(t)
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	t.Cleanup(func() { // runs before the stub stops: it lets the blocked call go
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	p.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		c, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
		buf.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: other\r\n\r\n")
		buf.Flush()
	})
	in := mustParse(t, p.config(map[string]any{"requestTimeout": "200ms"}))
	auth, err := connector{}.AuthorizationURI(context.Background(), in, sdk.AuthorizationRequest{RedirectURI: testRedirectURI, State: "STATE-1"})
	if err != nil {
		t.Fatal(err)
	}
	const deadline = time.Second // the host's call deadline
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := connector{}.UserInfo(ctx, in, sdk.UserInfoRequest{
			Session:  auth.Session,
			Callback: map[string]string{"code": "CODE-1", "state": auth.Session["state"]},
		})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a sign-in succeeded on a 101 answer")
		}
	case <-time.After(deadline + 5*time.Second):
		t.Fatalf("UserInfo is still blocked 5s after its %s deadline (requestTimeout 200ms)", deadline)
	}
}
