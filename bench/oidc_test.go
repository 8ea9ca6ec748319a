package bench_test

import (
	"context"
	"encoding/json"
	"syscall"
	"testing"
	"time"

	"github.com/idplug/idplug/bench/internal/stub"
	"github.com/idplug/idplug/bench/internal/suite"
	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/internal/plugintest"
	"github.com/idplug/idplug/plugins/oidc/oidcconnector"
	"github.com/idplug/idplug/sdk"
)

// oidcConfig signs in with the stub's OpenID Provider, found by discovery.
func oidcConfig(stubURL string) json.RawMessage {
	b, _ := json.Marshal(map[string]any{
		"issuer": stubURL + stub.OIDCPath, "clientId": stub.OIDCClientID, "clientSecret": "bench-oidc-secret",
		"tokenEndpointAuthMethod": "client_secret_post", "scope": "openid profile email", "storeTokens": true,
	})
	return b
}

// BenchmarkOIDCSignIn completes one OpenID Connect sign-in (callback, code exchange,
// ID token verification, profile), in process and through the host, and verifies
// the same ID token alone ("verify"), keys cached as in a running connector.
// cpu-ns/op is the CPU time per operation of this process (and, for "host", of the
// plugin's too): with the stub in its own process, as `make bench` runs it, that is
// idplug's alone, and verify's share of it is what ID token verification costs a
// sign-in.
func BenchmarkOIDCSignIn(b *testing.B) {
	stubURL := stubURL(b)
	cfg := oidcConfig(stubURL)
	ctx := context.Background()
	c := oidcconnector.New()
	in, err := c.ParseConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	auth, err := c.AuthorizationURI(ctx, in, sdk.AuthorizationRequest{InstanceID: "bench", RedirectURI: suite.RedirectURI, State: state})
	if err != nil {
		b.Fatal(err)
	}
	// The stub puts the code into the ID token as its nonce: the code is the nonce.
	nonce := auth.Session["nonce"]
	req := sdk.UserInfoRequest{InstanceID: "bench", Session: auth.Session, Callback: map[string]string{"code": nonce, "state": state}}
	first, err := c.UserInfo(ctx, in, req)
	if err != nil {
		b.Fatal(err)
	}
	if first.UserInfo.ID != stub.UserID {
		b.Fatalf("profile id = %q", first.UserInfo.ID)
	}

	b.Run("in-process", func(b *testing.B) {
		loopCPU(b, func() error {
			_, err := c.UserInfo(ctx, in, req)
			return err
		})
	})
	b.Run("verify", func(b *testing.B) {
		idToken := first.Tokens.IDToken
		loopCPU(b, func() error {
			_, err := in.VerifyIDToken(ctx, idToken, nonce)
			return err
		})
	})
	b.Run("host", func(b *testing.B) {
		h := openOIDCHost(b, cfg)
		auth, err := h.AuthorizationURI(ctx, "bench", suite.RedirectURI, state)
		if err != nil {
			b.Fatal(err)
		}
		callback := map[string]string{"code": auth.Session["nonce"], "state": state}
		pid := h.Plugins()[0].PID
		// CPU of both processes a sign-in runs in: the host and the plugin.
		before, err := suite.CPUTime(pid)
		if err != nil {
			b.Fatal(err)
		}
		self := cpuTime()
		loop(b, func() error {
			_, err := h.UserInfo(ctx, "bench", auth.Session, callback)
			return err
		})
		after, err := suite.CPUTime(pid)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64((after-before+cpuTime()-self).Nanoseconds())/float64(b.N), "cpu-ns/op")
	})
}

// loopCPU is loop, also reporting this process's CPU time per operation.
func loopCPU(b *testing.B, op func() error) {
	b.Helper()
	before := cpuTime()
	loop(b, op)
	b.ReportMetric(float64((cpuTime()-before).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func openOIDCHost(tb testing.TB, cfg json.RawMessage) *host.Host {
	tb.Helper()
	dir := plugintest.Folder(tb)
	plugintest.Install(tb, dir, binary(tb, suite.EnvOIDCPlugin, "./plugins/oidc"), "oidc")
	h, err := host.Open(context.Background(), host.Options{PluginDir: dir})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = h.Close() })
	if err := h.Configure(context.Background(), []host.InstanceConfig{{ID: "bench", Plugin: "oidc", Config: cfg}}); err != nil {
		tb.Fatal(err)
	}
	return h
}
