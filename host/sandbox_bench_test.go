package host_test

import (
	"context"
	"testing"

	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/host/sandbox"
	"github.com/idplug/idplug/internal/plugintest"
)

// BenchmarkSandbox measures what the sandbox costs: the start of one plugin (host
// start with one plugin; the launcher, Landlock and seccomp are on this path) and
// one call through the host, with the sandbox on (mode auto, everything this
// kernel supports) and off (the launcher still executes the verified file).
func BenchmarkSandbox(b *testing.B) {
	dir := plugintest.Folder(b)
	plugintest.Install(b, dir, plugintest.Binary(b, examplePkg), "example")
	modes := []struct {
		name string
		mode sandbox.Mode
	}{{"on", sandbox.ModeAuto}, {"off", sandbox.ModeOff}}
	for _, m := range modes {
		b.Run("start/"+m.name, func(b *testing.B) {
			for b.Loop() {
				h, err := host.Open(context.Background(), host.Options{PluginDir: dir, Sandbox: sandbox.Policy{Mode: m.mode}})
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
	for _, m := range modes {
		b.Run("call/"+m.name, func(b *testing.B) {
			h, err := host.Open(context.Background(), host.Options{PluginDir: dir, Sandbox: sandbox.Policy{Mode: m.mode}})
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
