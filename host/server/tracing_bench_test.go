package server_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/idplug/idplug/host/tracing"
	"github.com/idplug/idplug/internal/otlptest"
)

// BenchmarkSignInTracing: full sign-ins per second at 16 callers with tracing
// off, on with every sign-in sampled, and on with 1% sampled, each exporting
// over OTLP/HTTP to a receiver on loopback that only counts what it gets (what
// a collector spends decoding is not idplug's). A second server with tracing off shows the noise
// the "off" target is judged against. They take turns in short rounds, each in
// every place of the order; each ratio is taken within its round, and the
// figures are medians over the rounds. The targets: off within noise of a host
// without tracing, 100% sampled at least 0.90x of off. The body does not use
// b.N: -benchtime 1x runs it once.
// Run with: go test -run ^$ -bench 'BenchmarkSignInTracing$' -benchtime 1x ./host/server/
func BenchmarkSignInTracing(b *testing.B) {
	rounds, per := 9, 600*time.Millisecond
	if testing.Short() {
		rounds, per = 1, 100*time.Millisecond
	}
	rcv := otlptest.StartDiscarding(b)
	traced := func(sampler, arg string) *tracing.Tracing {
		s, fromEnv, err := tracing.Resolve(tracing.Settings{Exporter: "otlp", Endpoint: rcv.HTTPEndpoint,
			Sampler: sampler, SamplerArg: arg}, func(string) string { return "" })
		if err != nil {
			b.Fatal(err)
		}
		tr, err := tracing.Start(context.Background(), s, fromEnv, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
		return tr
	}
	all := []struct {
		name string
		srv  *benchServer
	}{
		{"off", newBenchServer(b, nil, false)},
		{"off-again", newBenchServer(b, nil, false)},
		{"sampled-100", newTracedBenchServer(b, nil, false, traced("parentbased_always_on", ""))},
		{"sampled-1", newTracedBenchServer(b, nil, false, traced("parentbased_traceidratio", "0.01"))},
	}
	for _, c := range all { // warm up connections, plugins and exporters
		if _, _, err := signInsPerSecond(16, per/4, c.srv); err != nil {
			b.Fatal(c.name, ": ", err)
		}
	}
	rates := make([][]float64, len(all))
	ratios := make([][]float64, len(all))
	// CPU time over every round: this process (server, callers, exporter) and
	// the plugin's, per sign-in. Less swayed than rates by a machine others load.
	hostCPU := make([]time.Duration, len(all))
	pluginCPU := make([]time.Duration, len(all))
	signIns := make([]int, len(all))
	for r := range rounds {
		round := make([]float64, len(all))
		for k := range all {
			i := (k + r) % len(all)
			before, pluginBefore := cpuTime(), pluginCPUTime(b, all[i].srv)
			rate, n, err := signInsPerSecond(16, per, all[i].srv)
			if err != nil {
				b.Fatal(all[i].name, ": ", err)
			}
			round[i] = rate
			hostCPU[i] += cpuTime() - before
			pluginCPU[i] += pluginCPUTime(b, all[i].srv) - pluginBefore
			signIns[i] += n
		}
		for i := range all {
			rates[i] = append(rates[i], round[i])
			ratios[i] = append(ratios[i], round[i]/round[0])
		}
	}
	for i, c := range all {
		b.ReportMetric(median(rates[i]), c.name+"-signins/s")
		b.ReportMetric(float64(hostCPU[i].Microseconds())/float64(signIns[i]), c.name+"-cpu-µs/signin")
		b.ReportMetric(float64(pluginCPU[i].Microseconds())/float64(signIns[i]), c.name+"-plugin-cpu-µs/signin")
		if i > 0 {
			b.ReportMetric(median(ratios[i]), c.name+"/off")
		}
	}
	if rcv.Exports() == 0 {
		b.Fatal("nothing reached the receiver: tracing was not on")
	}
}

// pluginCPUTime is the CPU time s's plugin process has used (/proc/PID/stat).
func pluginCPUTime(b *testing.B, s *benchServer) time.Duration {
	var total time.Duration
	for _, p := range s.host.Plugins() {
		pid := p.Proc.PID()
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			b.Fatalf("plugin %d: %v", pid, err)
		}
		// Fields after the command (which may hold spaces): 14 utime, 15 stime, in ticks.
		f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+2:]))
		utime, _ := strconv.ParseInt(f[11], 10, 64)
		stime, _ := strconv.ParseInt(f[12], 10, 64)
		total += time.Duration(utime+stime) * time.Second / clockTicks
	}
	return total
}

// clockTicks is USER_HZ, the unit of /proc's CPU times: 100 on Linux everywhere.
const clockTicks = 100
