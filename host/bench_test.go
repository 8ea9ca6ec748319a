package host_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/internal/plugintest"
	connectorv1 "github.com/idplug/idplug/proto/gen/idplug/connector/v1"
)

// BenchmarkCall compares one authorization-URI call through the host with the same
// call made on a bare go-plugin gRPC client to the same plugin binary: the difference
// is what the host adds (deadline, instance lookup, config tracking, conversions).
func BenchmarkCall(b *testing.B) {
	dir := plugintest.Folder(b)
	bin := plugintest.Install(b, dir, plugintest.Binary(b, examplePkg), "example")
	cfg := exampleConfig("Hello")

	b.Run("host", func(b *testing.B) {
		h, err := host.Open(context.Background(), host.Options{PluginDir: dir})
		if err != nil {
			b.Fatal(err)
		}
		defer h.Close()
		if err := h.Configure(context.Background(), []host.InstanceConfig{{ID: "demo", Plugin: "example", Config: cfg}}); err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := h.AuthorizationURI(ctx, "demo", "https://app.test/callback/demo", "state-0123456789"); err != nil {
				b.Fatal(err)
			}
		}
	})

	b.Run("bare-go-plugin", func(b *testing.B) {
		bare, err := plugintest.StartBare(bin)
		if err != nil {
			b.Fatal(err)
		}
		defer bare.Close()
		c := bare.Client
		ctx := context.Background()
		// The plugin caches the configuration after the first call, as it does for the host.
		first := &connectorv1.GetAuthorizationUriRequest{Instance: &connectorv1.Instance{Id: "demo", ConfigVersion: "v1", Config: cfg},
			RedirectUri: "https://app.test/callback/demo", State: "state-0123456789"}
		if _, err := c.GetAuthorizationUri(ctx, first); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			req := &connectorv1.GetAuthorizationUriRequest{Instance: &connectorv1.Instance{Id: "demo", ConfigVersion: "v1"},
				RedirectUri: "https://app.test/callback/demo", State: "state-0123456789"}
			if _, err := c.GetAuthorizationUri(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkStart20 measures host start-up with 20 plugin binaries, all at once
// against one at a time.
func BenchmarkStart20(b *testing.B) {
	dir := plugintest.Folder(b)
	bin := plugintest.Binary(b, misbehavePkg)
	for i := range 20 {
		plugintest.Install(b, dir, bin, fmt.Sprintf("p%02d", i))
	}
	for _, tc := range []struct {
		name        string
		concurrency int
	}{{"parallel", 0}, {"serial", 1}} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				h, err := host.Open(context.Background(), host.Options{PluginDir: dir, StartConcurrency: tc.concurrency})
				if err != nil {
					b.Fatal(err)
				}
				if n := len(h.Plugins()); n != 20 {
					b.Fatalf("%d plugins started: %v", n, h.Refused())
				}
				b.StopTimer()
				_ = h.Close()
				b.StartTimer()
			}
		})
	}
}

// BenchmarkInstanceMemory reports the plugin's resident memory with 1 and with 1,000
// configured instances, and the cost per instance (each instance's configuration is
// parsed and cached in the plugin by one call).
func BenchmarkInstanceMemory(b *testing.B) {
	dir := plugintest.Folder(b)
	plugintest.Install(b, dir, plugintest.Binary(b, examplePkg), "example")
	rss := map[int]float64{}
	for _, n := range []int{1, 1000} {
		h, err := host.Open(context.Background(), host.Options{PluginDir: dir})
		if err != nil {
			b.Fatal(err)
		}
		cfgs := make([]host.InstanceConfig, n)
		for i := range cfgs {
			cfgs[i] = host.InstanceConfig{ID: fmt.Sprintf("i%d", i), Plugin: "example", Config: exampleConfig(fmt.Sprint("Hello ", i))}
		}
		if err := h.Configure(context.Background(), cfgs); err != nil {
			b.Fatal(err)
		}
		for i := range cfgs {
			if _, err := h.AuthorizationURI(context.Background(), cfgs[i].ID, "https://app.test/cb", "s"); err != nil {
				b.Fatal(err)
			}
		}
		p, _ := h.Plugin("example")
		rss[n] = float64(residentKiB(b, p.PID()))
		_ = h.Close()
	}
	for b.Loop() {
	}
	b.ReportMetric(rss[1], "KiB-rss-1")
	b.ReportMetric(rss[1000], "KiB-rss-1000")
	b.ReportMetric((rss[1000]-rss[1])/999, "KiB/instance")
}

func residentKiB(b *testing.B, pid int) int {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return n
		}
	}
	b.Fatal("no VmRSS")
	return 0
}
