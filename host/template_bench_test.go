package host_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/internal/plugintest"
)

// BenchmarkDiscoveredAuthorizationURI: an authorization URL of an oidc instance
// whose endpoint comes from discovery, built by the host from the template the
// plugin reported ("host-built"), against the same URL asked of the plugin each
// time ("asked": the host's clock set past the template's time, while the plugin
// keeps its cached discovery document), in one host.
// Run with: go test -run '^$' -bench BenchmarkDiscoveredAuthorizationURI -benchmem ./host/
func BenchmarkDiscoveredAuthorizationURI(b *testing.B) {
	var op *httptest.Server
	op = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": op.URL, "authorization_endpoint": op.URL + "/authorize",
			"token_endpoint": op.URL + "/token", "jwks_uri": op.URL + "/jwks", "id_token_signing_alg_values_supported": []string{"RS256"}})
	}))
	defer op.Close()
	dir := plugintest.Folder(b)
	plugintest.Install(b, dir, plugintest.Binary(b, "./plugins/oidc"), "oidc")
	h, err := host.Open(context.Background(), host.Options{PluginDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	cfg, _ := json.Marshal(map[string]any{"issuer": op.URL, "clientId": "rp", "clientSecret": "secret-0123456789",
		"scope": "openid profile email"})
	ctx := context.Background()
	if err := h.Configure(ctx, []host.InstanceConfig{{ID: "op", Plugin: "oidc", Config: cfg}}); err != nil {
		b.Fatal(err)
	}
	var offset atomic.Int64 // how far the host's clock is ahead
	host.SetClock(h, func() time.Time { return time.Now().Add(time.Duration(offset.Load())) })
	signIn := func(b *testing.B) {
		if _, err := h.AuthorizationURI(ctx, "op", "https://app.test/cb", "state-0123456789"); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("asked", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			offset.Add(int64(2 * time.Hour)) // past any template the last call brought
			signIn(b)
		}
	})
	b.Run("host-built", func(b *testing.B) {
		offset.Add(int64(2 * time.Hour))
		signIn(b) // the plugin's answer brings a fresh template
		b.ReportAllocs()
		for b.Loop() {
			signIn(b)
		}
	})
}
