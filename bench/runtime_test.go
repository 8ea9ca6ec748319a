package bench_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/idplug/idplug/bench/internal/suite"
	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/internal/plugintest"
)

// runtimeVariants are the plugin runtime settings compared by
// BenchmarkPluginRuntimeSettings, as bench/plugin reads them from its file name
// (idplug-connector-oauth2rt-<variant>). The first is the one the others are
// compared with: both settings on, as sdk.Serve had them by default.
var runtimeVariants = []string{"both", "noprocs", "gc100", "neither"}

// BenchmarkPluginRuntimeSettings compares the Go runtime settings sdk.Serve can
// apply to a plugin (adaptive GOMAXPROCS, internal/procs; a GC headroom,
// internal/gcpercent): both on, each alone, neither. Four copies of bench/plugin
// (the OAuth 2.0 connector) run side by side in one plugin folder, one instance
// each, and complete full sign-ins (AuthorizationURI, then UserInfo) through the
// host package against the stub provider, at concurrency 1 and then 16. The
// variants take turns in short rounds, each round starting at the next variant, so
// that a drift of the machine's speed is shared by all of them. Per variant and
// concurrency it reports sign-ins per second, the plugin process's CPU time per
// sign-in (/proc/<pid>/stat, every thread; 10ms ticks), its resident memory at
// the end, and the medians over the rounds of the ratios to "both" taken within
// each round. The body does not use b.N: -benchtime 1x runs it once. With -short
// it runs one round of 100ms, as a check that every variant works.
func BenchmarkPluginRuntimeSettings(b *testing.B) {
	rounds, per, warmup := 6, 600*time.Millisecond, 500*time.Millisecond
	if testing.Short() {
		rounds, per, warmup = 1, 100*time.Millisecond, 50*time.Millisecond
	}
	ctx := context.Background()
	cfg := suite.ConnectorConfigJSON(stubURL(b))
	bin := binary(b, suite.EnvBenchPlugin, "./bench/plugin")
	dir := plugintest.Folder(b)
	cfgs := make([]host.InstanceConfig, len(runtimeVariants))
	for i, v := range runtimeVariants {
		plugin := "oauth2rt-" + v
		plugintest.Install(b, dir, bin, plugin)
		cfgs[i] = host.InstanceConfig{ID: v, Plugin: plugin, Config: cfg}
	}
	h, err := host.Open(ctx, host.Options{PluginDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = h.Close() })
	if err := h.Configure(ctx, cfgs); err != nil {
		b.Fatal(err)
	}
	pids := runtimePIDs(b, h)

	signIn := func(id string) suite.Op {
		callback := map[string]string{"code": "bench-code", "state": state}
		return func(ctx context.Context, _, _ int) error {
			auth, err := h.AuthorizationURI(ctx, id, suite.RedirectURI, state)
			if err != nil {
				return err
			}
			res, err := h.UserInfo(ctx, id, auth.Session, callback)
			if err == nil && res.UserInfo.ID == "" {
				err = fmt.Errorf("%s: a profile without an id", id)
			}
			return err
		}
	}
	// Warm up every plugin's connections, heap and instance cache.
	for _, v := range runtimeVariants {
		if s := suite.Run(ctx, 16, warmup, signIn(v)); s.Errors > 0 || s.Ops == 0 {
			b.Fatalf("%s: warm-up: %d errors, first %v", v, s.Errors, s.FirstErr)
		}
	}

	for _, conc := range []int{1, 16} {
		b.Run(fmt.Sprintf("c%d", conc), func(b *testing.B) {
			n := len(runtimeVariants)
			type tally struct {
				ops          int
				elapsed, cpu time.Duration
				rate, cpuPer []float64 // per round
			}
			t := make([]tally, n)
			for r := range rounds {
				for k := range n {
					i := (k + r) % n
					before, err := suite.CPUTime(pids[i])
					if err != nil {
						b.Fatal(err)
					}
					s := suite.Run(ctx, conc, per, signIn(runtimeVariants[i]))
					after, err := suite.CPUTime(pids[i])
					if err != nil {
						b.Fatal(err)
					}
					if s.Errors > 0 || s.Ops == 0 {
						b.Fatalf("%s: %d errors in %d sign-ins, first %v", runtimeVariants[i], s.Errors, s.Ops+s.Errors, s.FirstErr)
					}
					t[i].ops += s.Ops
					t[i].elapsed += s.Elapsed
					t[i].cpu += after - before
					t[i].rate = append(t[i].rate, float64(s.Ops)/s.Elapsed.Seconds())
					t[i].cpuPer = append(t[i].cpuPer, float64((after-before).Microseconds())/float64(s.Ops))
				}
			}
			if got := runtimePIDs(b, h); !slices.Equal(got, pids) {
				b.Fatalf("a plugin restarted during the rounds: pids %v, then %v", pids, got)
			}
			for i, v := range runtimeVariants {
				rateRatios := ratios(t[i].rate, t[0].rate)
				cpuRatios := ratios(t[i].cpuPer, t[0].cpuPer)
				rss, _ := suite.ResidentKiB(pids[i])
				rate := float64(t[i].ops) / t[i].elapsed.Seconds()
				b.Run(v, func(b *testing.B) {
					b.Logf("per round: sign-ins/s %s, plugin CPU µs/sign-in %s; vs %s: rate %s, CPU %s",
						fmtAll(t[i].rate, "%.0f"), fmtAll(t[i].cpuPer, "%.0f"),
						runtimeVariants[0], fmtAll(rateRatios, "%.2f"), fmtAll(cpuRatios, "%.2f"))
					b.ReportMetric(float64(t[i].elapsed.Nanoseconds())/float64(t[i].ops), "ns/op")
					b.ReportMetric(rate, "signins/s")
					b.ReportMetric(float64(t[i].cpu.Microseconds())/float64(t[i].ops), "plugin-cpu-µs/signin")
					b.ReportMetric(medianOf(rateRatios), "rate-vs-"+runtimeVariants[0])
					b.ReportMetric(medianOf(cpuRatios), "cpu-vs-"+runtimeVariants[0])
					b.ReportMetric(float64(rss), "plugin-rss-KiB")
				})
			}
		})
	}
}

// runtimePIDs returns the process id of each variant's plugin, in the order of
// runtimeVariants.
func runtimePIDs(tb testing.TB, h *host.Host) []int {
	tb.Helper()
	byID := map[string]int{}
	for _, p := range h.Plugins() {
		byID[p.Proc.Metadata().ID] = p.PID
	}
	pids := make([]int, len(runtimeVariants))
	for i, v := range runtimeVariants {
		if pids[i] = byID["oauth2rt-"+v]; pids[i] == 0 {
			tb.Fatalf("plugin oauth2rt-%s is not running (refused: %v)", v, h.Refused())
		}
	}
	return pids
}

// ratios is a[i]/b[i] for each i.
func ratios(a, b []float64) []float64 {
	out := make([]float64, len(a))
	for i := range a {
		out[i] = a[i] / b[i]
	}
	return out
}

func medianOf(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func fmtAll(xs []float64, format string) string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = fmt.Sprintf(format, x)
	}
	return fmt.Sprint(out)
}
