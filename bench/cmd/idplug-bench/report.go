package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"github.com/idplug/idplug/bench/internal/suite"
)

type report struct {
	Started        string                          `json:"started"`
	Seconds        float64                         `json:"seconds"`
	Machine        machineInfo                     `json:"machine"`
	LogtoConnector string                          `json:"logto_connector"`
	Commands       []string                        `json:"commands"`
	GoBench        map[string]goBenchSummary       `json:"go_bench"`
	LogtoAuthURL   suite.Result                    `json:"logto_authorization_url"`
	SignIn         map[string]map[string]signInRun `json:"sign_in"`
	RSS            []rssResult                     `json:"rss"`
	Targets        []target                        `json:"targets"`
	Missed         int                             `json:"missed"`
}

type target struct {
	Name     string  `json:"name"`
	Measured float64 `json:"measured"`
	// Want is the bound, as printed: ">= 2.00x", "<= 1.10x", "< 10.0 KiB".
	Want string `json:"want"`
	Pass bool   `json:"pass"`
}

const (
	authHost = "BenchmarkAuthorizationURL/host"
	authBare = "BenchmarkAuthorizationURL/bare-go-plugin"
	authIn   = "BenchmarkAuthorizationURL/in-process"
	inst1    = "BenchmarkInstances/1"
	inst10k  = "BenchmarkInstances/10000"
)

func ratio(a, b float64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return a / b
}

func (r *report) ops(key string, conc int) float64 { return r.SignIn[key][concKey(conc)].OpsPerSec }

// rssPerInstance is the growth of resident memory per instance from 1 to 10,000
// instances, in KiB: host, plugin.
func (r *report) rssPerInstance() (hostKiB, pluginKiB float64) {
	var one, many *rssResult
	for i := range r.RSS {
		switch r.RSS[i].Instances {
		case 1:
			one = &r.RSS[i]
		case 10000:
			many = &r.RSS[i]
		}
	}
	if one == nil || many == nil {
		return math.NaN(), math.NaN()
	}
	n := float64(many.Instances - one.Instances)
	return float64(many.HostKiB-one.HostKiB) / n, float64(many.PluginKiB-one.PluginKiB) / n
}

func (r *report) evaluate() {
	atLeast := func(name string, v, bound float64) {
		r.Targets = append(r.Targets, target{name, v, fmt.Sprintf(">= %.2fx", bound), v >= bound})
	}
	atMost := func(name string, v, bound float64) {
		r.Targets = append(r.Targets, target{name, v, fmt.Sprintf("<= %.2fx", bound), v <= bound})
	}
	atLeast("sign-in, concurrency 1: host package / Logto (ops/s)", ratio(r.ops("host", 1), r.ops("logto", 1)), 2)
	atLeast("sign-in, concurrency 16: host package / Logto (ops/s)", ratio(r.ops("host", 16), r.ops("logto", 16)), 5)
	atLeast("sign-in, concurrency 16: host package / x/oauth2 floor (ops/s)", ratio(r.ops("host", 16), r.ops("xoauth2", 16)), 0.6)
	atMost("authorization URL: host / bare go-plugin (time per call)", ratio(r.GoBench[authHost].NsPerOp, r.GoBench[authBare].NsPerOp), 1.10)
	atMost("per call: 10,000 instances / 1 instance (time per call)", ratio(r.GoBench[inst10k].NsPerOp, r.GoBench[inst1].NsPerOp), 1.05)
	h, p := r.rssPerInstance()
	r.Targets = append(r.Targets, target{"resident memory per instance, host + plugin (KiB)", h + p, "< 10.0 KiB", h+p < 10})
	atLeast("sign-in, concurrency 1: /v1 / host package (ops/s)", ratio(r.ops("v1", 1), r.ops("host", 1)), 0.7)
	atLeast("sign-in, concurrency 16: /v1 / host package (ops/s)", ratio(r.ops("v1", 16), r.ops("host", 16)), 0.7)
	for _, t := range r.Targets {
		if !t.Pass {
			r.Missed++
		}
	}
}

func (r *report) write(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// dur prints nanoseconds with three significant digits.
func dur(ns float64) string {
	switch {
	case ns <= 0 || math.IsNaN(ns):
		return "-"
	case ns < 1e3:
		return fmt.Sprintf("%.0fns", ns)
	case ns < 1e6:
		return sig(ns/1e3) + "µs"
	case ns < 1e9:
		return sig(ns/1e6) + "ms"
	default:
		return sig(ns/1e9) + "s"
	}
}

func sig(v float64) string {
	switch {
	case v < 10:
		return fmt.Sprintf("%.2f", v)
	case v < 100:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.0f", v)
	}
}

// rate prints operations per second with thousands separators.
func rate(v float64) string {
	if v <= 0 || math.IsNaN(v) {
		return "-"
	}
	s := fmt.Sprintf("%.0f", v)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func times(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	return fmt.Sprintf("%.2fx", v)
}

func (r *report) print(w io.Writer) {
	m := r.Machine
	fmt.Fprintf(w, "\nidplug benchmarks, %s (%.0fs)\n", r.Started, r.Seconds)
	fmt.Fprintf(w, "machine: %d x %s, %.1f GiB, Linux %s; %s; Node %s (Logto connector-oauth %s)\n",
		m.NProc, m.CPUModel, m.MemoryGiB, m.Kernel, m.Go, m.Node, r.LogtoConnector)
	fmt.Fprintf(w, "load average: %s at the start, %s at the end\n", m.LoadAvgStart, m.LoadAvgEnd)

	fmt.Fprintf(w, "\n1. Authorization URL, sequential                    ops/s        p50        p99   vs bare\n")
	bare := r.GoBench[authBare].NsPerOp
	for _, row := range []struct {
		label string
		s     goBenchSummary
	}{
		{"bare go-plugin gRPC call (floor)", r.GoBench[authBare]},
		{"host package -> oauth2 plugin", r.GoBench[authHost]},
		{"oauth2 connector in-process", r.GoBench[authIn]},
	} {
		fmt.Fprintf(w, "   %-44s %10s %10s %10s %9s\n", row.label, rate(1e9/row.s.NsPerOp), dur(row.s.P50Ns), dur(row.s.P99Ns), times(ratio(row.s.NsPerOp, bare)))
	}
	l := r.LogtoAuthURL
	fmt.Fprintf(w, "   %-44s %10s %10s %10s %9s\n", "Logto connector-oauth, Node", rate(l.OpsPerSec), dur(l.P50Ns), dur(l.P99Ns), times(ratio(l.NsPerOp, bare)))

	fmt.Fprintf(w, "\n2. Sign-in completion       %s\n", "      concurrency 1                   concurrency 16          c16 vs")
	fmt.Fprintf(w, "   %-36s %8s %8s %8s   %8s %8s %8s  %6s %6s\n", "", "ops/s", "p50", "p99", "ops/s", "p50", "p99", "host", "Logto")
	for _, c := range signInCases {
		a, b := r.SignIn[c.key]["c1"], r.SignIn[c.key]["c16"]
		fmt.Fprintf(w, "   %-36s %8s %8s %8s   %8s %8s %8s  %6s %6s\n", c.label,
			rate(a.OpsPerSec), dur(a.P50Ns), dur(a.P99Ns), rate(b.OpsPerSec), dur(b.P50Ns), dur(b.P99Ns),
			times(ratio(b.OpsPerSec, r.ops("host", 16))), times(ratio(b.OpsPerSec, r.ops("logto", 16))))
	}
	fmt.Fprintf(w, "\n   CPU time per sign-in (user+system, /proc/<pid>/stat)\n")
	fmt.Fprintf(w, "   %-36s %10s %10s %10s   %10s %10s %10s\n", "", "c1 host", "plugin", "stub", "c16 host", "plugin", "stub")
	for _, c := range signInCases {
		a, b := r.SignIn[c.key]["c1"].CPUPerOpUs, r.SignIn[c.key]["c16"].CPUPerOpUs
		hostRole := "host"
		if c.logto {
			hostRole = "node"
		}
		us := func(m map[string]float64, role string) string {
			if v, ok := m[role]; ok {
				return sig(v) + "µs"
			}
			return "-"
		}
		fmt.Fprintf(w, "   %-36s %10s %10s %10s   %10s %10s %10s\n", c.label,
			us(a, hostRole), us(a, "plugin"), us(a, "stub"), us(b, hostRole), us(b, "plugin"), us(b, "stub"))
	}
	fmt.Fprintf(w, "   (host: the idplug process for /v1; this benchmark process, load generator included, for the Go cases; node for Logto)\n")

	fmt.Fprintf(w, "\n3. Scale\n")
	for _, n := range []string{"1", "10", "50"} {
		s := r.GoBench["BenchmarkStart/"+n]
		fmt.Fprintf(w, "   host start with %2s plugin binaries        %10s\n", n, dur(s.NsPerOp))
	}
	one, many := r.GoBench[inst1], r.GoBench[inst10k]
	fmt.Fprintf(w, "   call through the host, 1 instance         %10s  (p50 %s, p99 %s)\n", dur(one.NsPerOp), dur(one.P50Ns), dur(one.P99Ns))
	fmt.Fprintf(w, "   call through the host, 10,000 instances   %10s  (p50 %s, p99 %s)  %s\n", dur(many.NsPerOp), dur(many.P50Ns), dur(many.P99Ns), times(ratio(many.NsPerOp, one.NsPerOp)))
	fmt.Fprintf(w, "   resident memory        instances   host KiB   plugin KiB\n")
	for _, x := range r.RSS {
		fmt.Fprintf(w, "                          %9d %10d %12d\n", x.Instances, x.HostKiB, x.PluginKiB)
	}
	h, p := r.rssPerInstance()
	fmt.Fprintf(w, "   per instance (1 -> 10,000): host %.2f KiB + plugin %.2f KiB = %.2f KiB\n", h, p, h+p)

	fmt.Fprintf(w, "\nTargets (ratios from this run)\n")
	for _, t := range r.Targets {
		res := "pass"
		if !t.Pass {
			res = "MISS"
		}
		v := times(t.Measured)
		if strings.HasSuffix(t.Want, "KiB") {
			v = fmt.Sprintf("%.2f KiB", t.Measured)
		}
		fmt.Fprintf(w, "   [%s] %-64s %10s  (want %s)\n", res, t.Name, v, t.Want)
	}
	fmt.Fprintln(w)
}
