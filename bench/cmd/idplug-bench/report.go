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
	// OpenID is the OpenID Provider part, by provider (idplug, hydra) and
	// concurrency; Hydra is the version of Ory Hydra measured.
	OpenID  map[string]map[string]openIDRun `json:"openid_sign_in,omitempty"`
	Hydra   string                          `json:"hydra,omitempty"`
	Targets []target                        `json:"targets"`
	Missed  int                             `json:"missed"`
	// Quick marks a -quick run, whose figures only show that every case works.
	Quick bool `json:"quick,omitempty"`
}

type target struct {
	Name string `json:"name"`
	// Measured is nil when the run did not measure it (see -parts).
	Measured *float64 `json:"measured"`
	// Want is the bound, as printed: ">= 2.00x", "<= 1.10x", "< 10.0 KiB".
	Want string `json:"want"`
	Pass bool   `json:"pass"`
}

const (
	authHost = "BenchmarkAuthorizationURL/host"
	authAsk  = "BenchmarkAuthorizationURL/host-asks-plugin"
	authBare = "BenchmarkAuthorizationURL/bare-go-plugin"
	authIn   = "BenchmarkAuthorizationURL/in-process"
	inst1    = "BenchmarkInstances/1"
	inst10k  = "BenchmarkInstances/10000"
	oidcIn   = "BenchmarkOIDCSignIn/in-process"
	oidcVer  = "BenchmarkOIDCSignIn/verify"
	oidcHost = "BenchmarkOIDCSignIn/host"
)

// cpuShare is the CPU time of a's operation over b's, from their medians.
func (r *report) cpuShare(a, b string) float64 { return ratio(r.GoBench[a].CPUNs, r.GoBench[b].CPUNs) }

func ratio(a, b float64) float64 {
	if b == 0 || a == 0 {
		return math.NaN()
	}
	return a / b
}

// roundRatio compares two sign-in cases at one concurrency: the median over
// the rounds of a's throughput over b's. The two ran within seconds of each
// other in every round, so a drift in the machine's other load cancels out,
// which a ratio of the totals would not do.
func (r *report) roundRatio(a, b string, conc int) float64 {
	return medianRatio(r.SignIn[a][concKey(conc)].RoundOpsPerSec, r.SignIn[b][concKey(conc)].RoundOpsPerSec)
}

// pairRatio compares two Go benchmarks that ran in the same test binary runs: the
// median over the runs of a's time per operation over b's. Each pair was measured
// seconds apart, so a drift in the machine's other load cancels out, which a ratio
// of the two medians would not do.
func (r *report) pairRatio(a, b string) float64 {
	return medianRatio(r.GoBench[a].Runs, r.GoBench[b].Runs)
}

// openIDRatio is idplug's throughput over Hydra's in the OpenID Provider part,
// the median of the per-round ratios.
func (r *report) openIDRatio(conc int) float64 {
	return medianRatio(r.OpenID["idplug"][concKey(conc)].RoundOpsPerSec, r.OpenID["hydra"][concKey(conc)].RoundOpsPerSec)
}

// medianRatio is the median of a[i]/b[i], for measurements taken in pairs.
func medianRatio(a, b []float64) float64 {
	if len(a) == 0 || len(a) != len(b) {
		return math.NaN()
	}
	v := make([]float64, len(a))
	for i := range a {
		v[i] = ratio(a[i], b[i])
	}
	return median(v)
}

// rssPair returns the results with 1 and with 10,000 instances.
func (r *report) rssPair() (one, many *rssResult) {
	for i := range r.RSS {
		switch r.RSS[i].Instances {
		case 1:
			one = &r.RSS[i]
		case 10000:
			many = &r.RSS[i]
		}
	}
	return one, many
}

// rssPerInstance is the growth of resident memory per instance from 1 to 10,000
// instances, in KiB: host, plugin.
func (r *report) rssPerInstance() (hostKiB, pluginKiB float64) {
	one, many := r.rssPair()
	if one == nil || many == nil {
		return math.NaN(), math.NaN()
	}
	n := float64(many.Instances - one.Instances)
	return float64(many.HostKiB-one.HostKiB) / n, float64(many.PluginKiB-one.PluginKiB) / n
}

// rssDiagnostics is the growth per instance from 1 to 10,000 instances of the host's
// live heap, of its resident memory after debug.FreeOSMemory, and of a plugin's that
// received its instances one at a time.
func (r *report) rssDiagnostics() []float64 {
	one, many := r.rssPair()
	if one == nil || many == nil {
		return nil
	}
	n := float64(many.Instances - one.Instances)
	return []float64{
		float64(many.HostLiveKiB-one.HostLiveKiB) / n,
		float64(many.HostFreedKiB-one.HostFreedKiB) / n,
		float64(many.PluginSeqKiB-one.PluginSeqKiB) / n,
	}
}

func (r *report) evaluate() {
	add := func(name string, v float64, want string, pass func(float64) bool) {
		t := target{Name: name, Want: want}
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			t.Measured = &v
			t.Pass = pass(v)
		}
		r.Targets = append(r.Targets, t)
	}
	atLeast := func(name string, v, bound float64) {
		add(name, v, fmt.Sprintf(">= %.2fx", bound), func(v float64) bool { return v >= bound })
	}
	atMost := func(name string, v, bound float64) {
		add(name, v, fmt.Sprintf("<= %.2fx", bound), func(v float64) bool { return v <= bound })
	}
	atLeast("full sign-in, concurrency 1: /v1 default (SQLite) / Logto in Node (ops/s)", r.roundRatio("full", "logtofull", 1), 1.4)
	atLeast("full sign-in, concurrency 16: /v1 default (SQLite) / Logto in Node (ops/s)", r.roundRatio("full", "logtofull", 16), 3.5)
	atLeast("full sign-in, concurrency 1: SQLite default / store off (ops/s)", r.roundRatio("full", "fulloff", 1), 0.95)
	atLeast("full sign-in, concurrency 16: SQLite default / store off (ops/s)", r.roundRatio("full", "fulloff", 16), 0.95)
	atLeast("sign-in, concurrency 1: host package / Logto (ops/s)", r.roundRatio("host", "logto", 1), 2)
	atLeast("sign-in, concurrency 16: host package / Logto (ops/s)", r.roundRatio("host", "logto", 16), 5)
	atLeast("sign-in, concurrency 16: host package / x/oauth2 floor (ops/s)", r.roundRatio("host", "xoauth2", 16), 0.6)
	atMost("authorization URL: host asking the plugin / bare go-plugin (time per call)", r.pairRatio(authAsk, authBare), 1.10)
	atMost("per call: 10,000 instances / 1 instance (time per call)", r.pairRatio(inst10k, inst1), 1.05)
	h, p := r.rssPerInstance()
	add("resident memory per instance, host + plugin (KiB)", h+p, "< 10.0 KiB", func(v float64) bool { return v < 10 })
	atLeast("sign-in, concurrency 16: Logto bridge / Logto in Node (ops/s)", r.roundRatio("bridge", "logto", 16), 0.8)
	atLeast("sign-in, concurrency 1: /v1 / host package (ops/s)", r.roundRatio("v1", "host", 1), 0.7)
	atLeast("sign-in, concurrency 16: /v1 / host package (ops/s)", r.roundRatio("v1", "host", 16), 0.7)
	atMost("OIDC: ID token verification / sign-in through the host (CPU)", r.cpuShare(oidcVer, oidcHost), 0.15)
	atMost("OIDC: ID token verification / sign-in in process (CPU)", r.cpuShare(oidcVer, oidcIn), 0.15)
	atLeast("OpenID Provider sign-in, concurrency 16: idplug / Ory Hydra (ops/s)", r.openIDRatio(16), 1)
	for _, t := range r.Targets {
		if t.Measured != nil && !t.Pass {
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
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
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
	if r.Quick {
		fmt.Fprintf(w, "-quick: every run is a fraction of a second; the figures only show that every case works\n")
	}

	fmt.Fprintf(w, "\n1. Authorization URL, sequential                    ops/s        p50        p99   vs bare\n")
	bare := r.GoBench[authBare].NsPerOp
	for _, row := range []struct {
		label string
		name  string
	}{
		{"bare go-plugin gRPC call (floor)", authBare},
		{"  the same with the host's 10s deadline", authBare + "-deadline"},
		{"host package, built by the host (template)", authHost},
		{"host package -> oauth2 plugin (asked)", authAsk},
		{"oauth2 connector in-process", authIn},
	} {
		s := r.GoBench[row.name]
		fmt.Fprintf(w, "   %-44s %10s %10s %10s %9s\n", row.label, rate(1e9/s.NsPerOp), dur(s.P50Ns), dur(s.P99Ns), times(r.pairRatio(row.name, authBare)))
	}
	l := r.LogtoAuthURL
	fmt.Fprintf(w, "   %-44s %10s %10s %10s %9s\n", "Logto connector-oauth, Node", rate(l.OpsPerSec), dur(l.P50Ns), dur(l.P99Ns), times(ratio(l.NsPerOp, bare)))

	fmt.Fprintf(w, "\n2. Sign-in completion       %s\n", "      concurrency 1                   concurrency 16          c16 vs")
	fmt.Fprintf(w, "   %-36s %8s %8s %8s   %8s %8s %8s  %6s %6s\n", "", "ops/s", "p50", "p99", "ops/s", "p50", "p99", "host", "Logto")
	for _, c := range signInCases {
		a, b := r.SignIn[c.key]["c1"], r.SignIn[c.key]["c16"]
		// Full sign-ins compare with Logto's full sign-in, completions with its completion.
		logto := "logto"
		if c.full {
			logto = "logtofull"
		}
		fmt.Fprintf(w, "   %-36s %8s %8s %8s   %8s %8s %8s  %6s %6s\n", c.label,
			rate(a.OpsPerSec), dur(a.P50Ns), dur(a.P99Ns), rate(b.OpsPerSec), dur(b.P50Ns), dur(b.P99Ns),
			times(r.roundRatio(c.key, "host", 16)), times(r.roundRatio(c.key, logto, 16)))
	}
	fmt.Fprintf(w, "   full: authorization URL, then completion; vs Logto is against Logto's full sign-in (c1: %s, c16: %s)\n",
		times(r.roundRatio("full", "logtofull", 1)), times(r.roundRatio("full", "logtofull", 16)))
	fmt.Fprintf(w, "\n   CPU time per sign-in, µs (user+system, /proc/<pid>/stat)\n")
	roles := []string{"host", "plugin", "node", "stub", "client"}
	fmt.Fprintf(w, "   %-36s %-43s %-43s\n", "", "  concurrency 1", "  concurrency 16")
	fmt.Fprintf(w, "   %-36s", "")
	for range 2 {
		for _, role := range roles {
			fmt.Fprintf(w, " %8s", role)
		}
	}
	fmt.Fprintln(w)
	for _, c := range signInCases {
		fmt.Fprintf(w, "   %-36s", c.label)
		for _, conc := range []string{"c1", "c16"} {
			m := r.SignIn[c.key][conc].CPUPerOpUs
			for _, role := range roles {
				v, ok := m[role]
				if !ok {
					fmt.Fprintf(w, " %8s", "-")
					continue
				}
				fmt.Fprintf(w, " %8s", sig(v))
			}
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "   host: the idplug process (/v1), this benchmark process with its load generator (Go cases); node: Node\n")
	fmt.Fprintf(w, "   (Logto's connector, or the bridge's); client: this benchmark process as the /v1 client.\n")
	fmt.Fprintf(w, "   10ms clock ticks: figures at low rates are coarse.\n")
	fmt.Fprintf(w, "\n   OpenID Connect sign-in, sequential (ID token: RS256, 2048-bit key)   ops/s        p50        p99   CPU µs/op\n")
	for _, row := range []struct{ label, name string }{
		{"oidc connector in-process (exchange, verification, profile)", oidcIn},
		{"  ID token verification alone", oidcVer},
		{"host package -> oidc plugin (CPU: both processes)", oidcHost},
	} {
		s := r.GoBench[row.name]
		fmt.Fprintf(w, "   %-60s %10s %10s %10s %10s\n", row.label, rate(1e9/s.NsPerOp), dur(s.P50Ns), dur(s.P99Ns), sig(s.CPUNs/1e3))
	}
	fmt.Fprintf(w, "   verification's share of a sign-in's CPU: %.1f%% in process, %.1f%% through the host\n",
		100*r.cpuShare(oidcVer, oidcIn), 100*r.cpuShare(oidcVer, oidcHost))
	fmt.Fprintf(w, "\n3. Scale\n")
	for _, n := range []string{"1", "10", "50"} {
		s := r.GoBench["BenchmarkStart/"+n]
		fmt.Fprintf(w, "   host start with %2s plugin binaries        %10s\n", n, dur(s.NsPerOp))
	}
	one, many := r.GoBench[inst1], r.GoBench[inst10k]
	fmt.Fprintf(w, "   call through the host, 1 instance         %10s  (p50 %s, p99 %s)\n", dur(one.NsPerOp), dur(one.P50Ns), dur(one.P99Ns))
	fmt.Fprintf(w, "   call through the host, 10,000 instances   %10s  (p50 %s, p99 %s)  %s\n", dur(many.NsPerOp), dur(many.P50Ns), dur(many.P99Ns), times(r.pairRatio(inst10k, inst1)))
	fmt.Fprintf(w, "   resident memory (KiB)  instances       host     plugin  | host live heap  host after free  plugin fed one by one\n")
	for _, x := range r.RSS {
		fmt.Fprintf(w, "                          %9d %10d %10d  | %14d %16d %22d\n", x.Instances, x.HostKiB, x.PluginKiB, x.HostLiveKiB, x.HostFreedKiB, x.PluginSeqKiB)
	}
	if h, p := r.rssPerInstance(); !math.IsNaN(h) {
		fmt.Fprintf(w, "   per instance (1 -> 10,000): host %.2f KiB + plugin %.2f KiB = %.2f KiB\n", h, p, h+p)
	}
	if d := r.rssDiagnostics(); d != nil {
		fmt.Fprintf(w, "   diagnostics per instance: host live heap %.2f KiB, host after free %.2f KiB, plugin fed one by one %.2f KiB\n", d[0], d[1], d[2])
	}

	fmt.Fprintf(w, "   (Go benchmarks: median of %d interleaved runs; \"vs bare\" and 10,000 vs 1 are medians of the per-run ratios;\n", len(r.GoBench[authBare].Runs))
	fmt.Fprintf(w, "    sign-ins: %d rounds, each case in turn, every ratio between cases the median of the per-round ratios)\n", len(r.SignIn["host"]["c16"].RoundOpsPerSec))
	r.printOpenID(w)
	fmt.Fprintf(w, "\nTargets (ratios from this run)\n")
	for _, t := range r.Targets {
		res, v := "pass", "-"
		switch {
		case t.Measured == nil:
			res = "----"
		case !t.Pass:
			res = "MISS"
		}
		if t.Measured != nil {
			v = times(*t.Measured)
			if strings.HasSuffix(t.Want, "KiB") {
				v = fmt.Sprintf("%.2f KiB", *t.Measured)
			}
		}
		fmt.Fprintf(w, "   [%s] %-64s %10s  (want %s)\n", res, t.Name, v, t.Want)
	}
	fmt.Fprintln(w)
}

// printOpenID prints the OpenID Provider part, when it ran.
func (r *report) printOpenID(w io.Writer) {
	if r.OpenID == nil {
		return
	}
	rows := []struct{ key, label string }{
		{"idplug", "idplug serve (oauth2 plugin -> stub)"},
		{"hydra", "Ory Hydra " + r.Hydra + " (login/consent app)"},
	}
	fmt.Fprintf(w, "\n4. OpenID Provider: a full sign-in (authorize + login + code + token + ID token check + userinfo)\n")
	fmt.Fprintf(w, "   %-40s %8s %8s %8s   %8s %8s %8s  %8s %8s\n", "", "c1 ops/s", "p50", "p99", "c16 ops/s", "p50", "p99", "redirects", "c16 vs")
	for _, row := range rows {
		a, b := r.OpenID[row.key]["c1"], r.OpenID[row.key]["c16"]
		fmt.Fprintf(w, "   %-40s %8s %8s %8s   %8s %8s %8s  %8.1f %8s\n", row.label,
			rate(a.OpsPerSec), dur(a.P50Ns), dur(a.P99Ns), rate(b.OpsPerSec), dur(b.P50Ns), dur(b.P99Ns),
			b.BrowserRequests, times(medianRatio(r.OpenID[row.key]["c16"].RoundOpsPerSec, r.OpenID["hydra"]["c16"].RoundOpsPerSec)))
	}
	fmt.Fprintf(w, "   idplug / Hydra, median of the per-round ratios: %s at concurrency 1, %s at concurrency 16\n",
		times(r.openIDRatio(1)), times(r.openIDRatio(16)))
	fmt.Fprintf(w, "\n   CPU time per sign-in, µs (user+system, /proc/<pid>/stat)\n")
	fmt.Fprintf(w, "   %-40s %-53s %-53s\n", "", "  concurrency 1", "  concurrency 16")
	fmt.Fprintf(w, "   %-40s", "")
	for range 2 {
		for _, role := range openIDRoles {
			fmt.Fprintf(w, " %8s", role)
		}
		fmt.Fprintf(w, " %8s", "total")
	}
	fmt.Fprintln(w)
	for _, row := range rows {
		fmt.Fprintf(w, "   %-40s", row.label)
		for _, conc := range []string{"c1", "c16"} {
			m := r.OpenID[row.key][conc].CPUPerOpUs
			total := 0.0
			for _, role := range openIDRoles {
				v, ok := m[role]
				if !ok {
					fmt.Fprintf(w, " %8s", "-")
					continue
				}
				total += v
				fmt.Fprintf(w, " %8s", sig(v))
			}
			fmt.Fprintf(w, " %8s", sig(total))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "   server: idplug, or hydra; plugin: idplug's oauth2 plugin; stub: the stub provider (idplug's upstream);\n")
	fmt.Fprintf(w, "   login: Hydra's login-and-consent app; client: this benchmark process, the app (go-oidc, x/oauth2).\n")
	fmt.Fprintf(w, "   Store on for both: idplug's default SQLite, Hydra's SQLite. A fresh cookie jar per sign-in (no SSO).\n")
}
