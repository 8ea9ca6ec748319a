package egress

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/idplug/idplug/internal/wire"
	"github.com/idplug/idplug/sdk"
)

// BenchmarkProviderCall is one provider request from a plugin's HTTP client
// (sdk.NewTransport, what oauth2kit uses), direct and through the egress proxy:
// on a kept-alive connection (the usual case: the tunnel is made once, then
// only relayed) and on a new connection each time (the proxy's CONNECT, rules,
// resolution and dial on top of the TCP connect).
func BenchmarkProviderCall(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"access_token":"x","token_type":"Bearer","expires_in":3600}`)
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	path := filepath.Join(b.TempDir(), "egress.sock")
	p, err := Listen(path, Options{Rules: func() Rules { return Rules{Named: []string{addr}} }})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	for _, via := range []string{"direct", "proxy"} {
		for _, conn := range []string{"keepalive", "new"} {
			b.Run(via+"/"+conn, func(b *testing.B) {
				if via == "proxy" {
					b.Setenv(wire.EnvEgressProxy, path)
				}
				t := sdk.NewTransport()
				t.DisableKeepAlives = conn == "new"
				defer t.CloseIdleConnections()
				c := &http.Client{Transport: t}
				ctx := context.Background()
				for b.Loop() {
					req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/token", strings.NewReader("grant_type=authorization_code&code=c"))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					res, err := c.Do(req)
					if err != nil {
						b.Fatal(err)
					}
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
				}
			})
		}
	}
}
