package host_test

import (
	"context"
	"testing"

	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/host/sandbox"
	"github.com/idplug/idplug/internal/plugintest"
)

// BenchmarkSandbox measures what the sandbox costs: the start of one plugin (host
// start with one plugin; the launcher, its namespaces, Landlock and seccomp are
// on this path) and one call through the host, with the sandbox as it is by
// default (on: a private root, a network namespace and the egress proxy), in
// egress mode open (a private root, and a Landlock rule for every TCP port but
// idplug's own), as it was before the private root and the proxy (landlock:
// Landlock and seccomp alone), and off (the launcher still executes the
// verified file).
func BenchmarkSandbox(b *testing.B) {
	dir := plugintest.Folder(b)
	plugintest.Install(b, dir, plugintest.Binary(b, examplePkg), "example")
	modes := []struct {
		name   string
		policy sandbox.Policy
	}{
		{"on", sandbox.Policy{HostPorts: []uint16{8080}}},
		{"open", sandbox.Policy{Egress: sandbox.EgressOpen, HostPorts: []uint16{8080}}},
		{"landlock", sandbox.Policy{Egress: sandbox.EgressOpen, NoNamespaces: true}},
		{"off", sandbox.Policy{Mode: sandbox.ModeOff}},
	}
	for _, m := range modes {
		b.Run("start/"+m.name, func(b *testing.B) {
			for b.Loop() {
				h, err := host.Open(context.Background(), host.Options{PluginDir: dir, Sandbox: m.policy})
				if err != nil {
					b.Fatal(err)
				}
				if len(h.Plugins()) != 1 {
					b.Fatalf("refused: %v", h.Refused())
				}
				b.StopTimer()
				_ = h.Close()
				b.StartTimer()
			}
		})
	}
	// A plugin started again in a running host (OnDemand: an instance
	// configured, then removed): what a host's later starts cost, once what it
	// makes at its first start (egress open's connect rules) is made.
	for _, m := range modes {
		b.Run("again/"+m.name, func(b *testing.B) {
			h, err := host.Open(context.Background(), host.Options{PluginDir: dir, Sandbox: m.policy, OnDemand: true})
			if err != nil {
				b.Fatal(err)
			}
			defer h.Close()
			demo := []host.InstanceConfig{{ID: "demo", Plugin: "example", Config: exampleConfig("Hello")}}
			ctx := context.Background()
			for b.Loop() {
				if err := h.Configure(ctx, demo); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := h.Configure(ctx, nil); err != nil {
					b.Fatal(err)
				}
				if running := h.Plugins(); len(running) != 0 {
					b.Fatalf("after removing the instance, running: %+v", running)
				}
				b.StartTimer()
			}
		})
	}
	for _, m := range modes {
		b.Run("call/"+m.name, func(b *testing.B) {
			h, err := host.Open(context.Background(), host.Options{PluginDir: dir, Sandbox: m.policy})
			if err != nil {
				b.Fatal(err)
			}
			defer h.Close()
			if err := h.Configure(context.Background(), []host.InstanceConfig{{ID: "demo", Plugin: "example", Config: exampleConfig("Hello")}}); err != nil {
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
	}
}
