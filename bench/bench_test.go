package bench_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/idplug/idplug/bench/internal/stub"
	"github.com/idplug/idplug/bench/internal/suite"
	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/host/process"
	"github.com/idplug/idplug/internal/plugintest"
	"github.com/idplug/idplug/plugins/oauth2/oauth2connector"
	connectorv1 "github.com/idplug/idplug/proto/gen/idplug/connector/v1"
	"github.com/idplug/idplug/sdk"
)

func TestMain(m *testing.M) {
	code := m.Run()
	plugintest.Cleanup()
	os.Exit(code)
}

// EnvStubURL names the stub provider the driver runs; without it the benchmarks
// start one in their own process.
const EnvStubURL = "IDPLUG_BENCH_STUB_URL"

// state is as long as the states idplug makes (32 random bytes, base64url).
const state = "c3RhdGUtMDEyMzQ1Njc4OWFiY2RlZi0wMTIzNDU2Nzg5"

func stubURL(tb testing.TB) string {
	if u := os.Getenv(EnvStubURL); u != "" {
		return u
	}
	srv := httptest.NewServer((&stub.Provider{}).Handler())
	tb.Cleanup(srv.Close)
	return srv.URL
}

func binary(tb testing.TB, env, pkg string) string {
	if p := os.Getenv(env); p != "" {
		return p
	}
	return plugintest.Binary(tb, pkg)
}

func oauth2Plugin(tb testing.TB) string {
	return binary(tb, suite.EnvOAuth2Plugin, "./plugins/oauth2")
}

// openHost runs the oauth2 plugin in a host with the given instances configured.
func openHost(tb testing.TB, cfgs []host.InstanceConfig) *host.Host {
	tb.Helper()
	dir := plugintest.Folder(tb)
	plugintest.Install(tb, dir, oauth2Plugin(tb), "oauth2")
	h, err := host.Open(context.Background(), host.Options{PluginDir: dir})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = h.Close() })
	if err := h.Configure(context.Background(), cfgs); err != nil {
		tb.Fatal(err)
	}
	return h
}

// loop runs op under b.Loop and reports the median and 99th percentile latency.
func loop(b *testing.B, op func() error) {
	b.Helper()
	lat := make([]time.Duration, 0, 1<<16)
	b.ReportAllocs()
	for b.Loop() {
		t := time.Now()
		if err := op(); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(suite.Percentile(lat, 0.50)), "p50-ns")
	b.ReportMetric(float64(suite.Percentile(lat, 0.99)), "p99-ns")
}

// BenchmarkAuthorizationURL builds one authorization URL with the oauth2 connector:
// through the host into the plugin process, with a bare go-plugin gRPC call of the
// same request to the same plugin binary (the floor of a call across processes; also
// with the host's per-call deadline), and in-process.
func BenchmarkAuthorizationURL(b *testing.B) {
	cfg := suite.ConnectorConfigJSON(stubURL(b))
	ctx := context.Background()

	// host: the plugin declared its template, and the host builds the URL.
	b.Run("host", func(b *testing.B) {
		h := openHost(b, []host.InstanceConfig{{ID: "bench", Plugin: "oauth2", Config: cfg}})
		loop(b, func() error {
			_, err := h.AuthorizationURI(ctx, "bench", suite.RedirectURI, state)
			return err
		})
	})

	// host-asks-plugin: the call the host makes without a template (as before
	// templates, and for connectors that declare none).
	b.Run("host-asks-plugin", func(b *testing.B) {
		h := openHost(b, []host.InstanceConfig{{ID: "bench", Plugin: "oauth2", Config: cfg}})
		proc, ok := h.Plugin("oauth2")
		if !ok {
			b.Fatal("no oauth2 plugin")
		}
		inst := process.Instance{ID: "bench", Version: hex.EncodeToString(make([]byte, 16)), Config: cfg}
		req := sdk.AuthorizationRequest{InstanceID: "bench", RedirectURI: suite.RedirectURI, State: state}
		loop(b, func() error {
			_, err := proc.AuthorizationURI(ctx, inst, req)
			return err
		})
	})

	// deadline: the bare call with the deadline the host gives every call (a
	// diagnostic: it tells the cost of the deadline from the rest of the host's layer).
	for _, deadline := range []bool{false, true} {
		name := "bare-go-plugin"
		if deadline {
			name += "-deadline"
		}
		b.Run(name, func(b *testing.B) {
			bare, err := plugintest.StartBare(oauth2Plugin(b))
			if err != nil {
				b.Fatal(err)
			}
			defer bare.Close()
			// The host's config version is a 32-digit hex digest: the same size here.
			version := hex.EncodeToString(make([]byte, 16))
			first := &connectorv1.GetAuthorizationUriRequest{Instance: &connectorv1.Instance{Id: "bench", ConfigVersion: version, Config: cfg},
				RedirectUri: suite.RedirectURI, State: state}
			if _, err := bare.Client.GetAuthorizationUri(ctx, first); err != nil {
				b.Fatal(err)
			}
			loop(b, func() error {
				ctx := ctx
				if deadline {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
					defer cancel()
				}
				req := &connectorv1.GetAuthorizationUriRequest{Instance: &connectorv1.Instance{Id: "bench", ConfigVersion: version},
					RedirectUri: suite.RedirectURI, State: state}
				_, err := bare.Client.GetAuthorizationUri(ctx, req)
				return err
			})
		})
	}

	b.Run("in-process", func(b *testing.B) {
		in, err := oauth2connector.New().ParseConfig(cfg)
		if err != nil {
			b.Fatal(err)
		}
		c := oauth2connector.New()
		req := sdk.AuthorizationRequest{InstanceID: "bench", RedirectURI: suite.RedirectURI, State: state}
		loop(b, func() error {
			_, err := c.AuthorizationURI(ctx, in, req)
			return err
		})
	})
}

// BenchmarkInstances is the cost of one call through the host (an authorization URL)
// with 1 and with 10,000 configured instances of the oauth2 plugin; with 10,000,
// consecutive calls go to different instances.
func BenchmarkInstances(b *testing.B) {
	base := suite.ConnectorConfig(stubURL(b))
	ctx := context.Background()
	for _, n := range []int{1, 10000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			cfgs := instanceConfigs(b, base, n)
			h := openHost(b, cfgs)
			ids := make([]string, n)
			for i, c := range cfgs {
				ids[i] = c.ID
				if _, err := h.AuthorizationURI(ctx, c.ID, suite.RedirectURI, state); err != nil {
					b.Fatal(err)
				}
			}
			// Measure the steady state, not the collection of what configuring left.
			runtime.GC()
			time.Sleep(settle)
			i := 0
			loop(b, func() error {
				_, err := h.AuthorizationURI(ctx, ids[i%n], suite.RedirectURI, state)
				i++
				return err
			})
		})
	}
}

// settle is how long BenchmarkInstances lets the host and the plugin rest after
// configuring, before it measures.
const settle = 2 * time.Second

// instanceConfigs returns n distinct instances (each with its own client id).
func instanceConfigs(tb testing.TB, base map[string]any, n int) []host.InstanceConfig {
	cfgs := make([]host.InstanceConfig, n)
	for i := range cfgs {
		c := maps(base)
		c["clientId"] = fmt.Sprintf("bench-client-%05d", i)
		cfgs[i] = host.InstanceConfig{ID: fmt.Sprintf("i%05d", i), Plugin: "oauth2", Config: mustJSON(tb, c)}
	}
	return cfgs
}

// BenchmarkStart is the host's start-up (host.Open: every plugin started, its
// handshake done and its metadata read) with 1, 10 and 50 plugin binaries. The
// plugins are bench/plugin: the oauth2 connector under an id taken from the file name.
func BenchmarkStart(b *testing.B) {
	bin := binary(b, suite.EnvBenchPlugin, "./bench/plugin")
	for _, n := range []int{1, 10, 50} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			dir := plugintest.Folder(b)
			for i := range n {
				plugintest.Install(b, dir, bin, fmt.Sprintf("p%02d", i))
			}
			for b.Loop() {
				h, err := host.Open(context.Background(), host.Options{PluginDir: dir})
				if err != nil {
					b.Fatal(err)
				}
				if got := len(h.Plugins()); got != n {
					b.Fatalf("%d of %d plugins started: %v", got, n, h.Refused())
				}
				b.StopTimer()
				_ = h.Close()
				b.StartTimer()
			}
		})
	}
}

// BenchmarkSignIn completes one sign-in (callback, code exchange, userinfo, profile)
// sequentially: through the host, in-process, and with golang.org/x/oauth2. The
// driver measures these at concurrency 1 and 16 next to /v1 and Logto; this
// benchmark is there to profile them (-cpuprofile).
func BenchmarkSignIn(b *testing.B) {
	stubURL := stubURL(b)
	cfg := suite.ConnectorConfigJSON(stubURL)
	ctx := context.Background()

	b.Run("host", func(b *testing.B) {
		h := openHost(b, []host.InstanceConfig{{ID: "bench", Plugin: "oauth2", Config: cfg}})
		auth, err := h.AuthorizationURI(ctx, "bench", suite.RedirectURI, state)
		if err != nil {
			b.Fatal(err)
		}
		callback := map[string]string{"code": "bench-code", "state": state}
		loop(b, func() error {
			_, err := h.UserInfo(ctx, "bench", auth.Session, callback)
			return err
		})
	})

	b.Run("in-process", func(b *testing.B) {
		in, err := oauth2connector.New().ParseConfig(cfg)
		if err != nil {
			b.Fatal(err)
		}
		c := oauth2connector.New()
		auth, err := c.AuthorizationURI(ctx, in, sdk.AuthorizationRequest{InstanceID: "bench", RedirectURI: suite.RedirectURI, State: state})
		if err != nil {
			b.Fatal(err)
		}
		req := sdk.UserInfoRequest{InstanceID: "bench", Session: auth.Session, Callback: map[string]string{"code": "bench-code", "state": state}}
		loop(b, func() error {
			_, err := c.UserInfo(ctx, in, req)
			return err
		})
	})

	b.Run("x-oauth2", func(b *testing.B) {
		f := suite.NewFloor(stubURL)
		loop(b, func() error {
			_, err := f.SignIn(ctx, "bench-code")
			return err
		})
	})
}

// TestInProcessMatchesPlugin checks that the in-process connector and the plugin agree: with the
// benchmarks' configuration it must build the same authorization URL and session
// as the oauth2 plugin, and map the same profile.
func TestInProcessMatchesPlugin(t *testing.T) {
	stubURL := stubURL(t)
	cfg := suite.ConnectorConfigJSON(stubURL)
	ctx := context.Background()
	h := openHost(t, []host.InstanceConfig{{ID: "bench", Plugin: "oauth2", Config: cfg}})
	in, err := oauth2connector.New().ParseConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := oauth2connector.New()

	fromPlugin, err := h.AuthorizationURI(ctx, "bench", suite.RedirectURI, state)
	if err != nil {
		t.Fatal(err)
	}
	fromInProc, err := c.AuthorizationURI(ctx, in, sdk.AuthorizationRequest{InstanceID: "bench", RedirectURI: suite.RedirectURI, State: state})
	if err != nil {
		t.Fatal(err)
	}
	// PKCE makes the challenge and the verifier random: compare everything else.
	scrub := func(a *sdk.Authorization) (string, url.Values, []string) {
		u, err := url.Parse(a.RedirectTo)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		if q.Get("code_challenge") == "" {
			t.Errorf("no PKCE challenge in %s", a.RedirectTo)
		}
		q.Del("code_challenge")
		u.RawQuery = ""
		var keys []string
		for k := range a.Session {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return u.String(), q, keys
	}
	pu, pq, pk := scrub(fromPlugin)
	iu, iq, ik := scrub(fromInProc)
	if pu != iu || !reflect.DeepEqual(pq, iq) || !reflect.DeepEqual(pk, ik) {
		t.Errorf("authorization differs:\nplugin     %s %v session %v\nin-process %s %v session %v", pu, pq, pk, iu, iq, ik)
	}

	callback := map[string]string{"code": "bench-code", "state": state}
	p, err := h.UserInfo(ctx, "bench", fromPlugin.Session, callback)
	if err != nil {
		t.Fatal(err)
	}
	i, err := c.UserInfo(ctx, in, sdk.UserInfoRequest{InstanceID: "bench", Session: fromInProc.Session, Callback: callback})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&p.UserInfoResult, i) || p.UserInfo.ID != stub.UserID {
		t.Errorf("profiles differ:\nplugin     %+v\nin-process %+v", p, i)
	}

	f := suite.NewFloor(stubURL)
	if id, err := f.SignIn(ctx, "bench-code"); err != nil || id != stub.UserID {
		t.Errorf("x/oauth2 floor: %q, %v", id, err)
	}
}
