package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/idplug/idplug/bench/internal/suite"
)

// run runs the suite: the Go benchmarks, then the OpenID Providers, then the
// sign-in cases round by round, then (in finish) the memory children, and reports.
func run(o options) error {
	start := time.Now()
	rep := &report{Machine: machine(), Started: start.UTC().Format(time.RFC3339), Quick: o.quick}
	rep.Machine.LoadAvgStart = loadAvg()
	tmp, err := os.MkdirTemp("", "idplug-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	benchPlugin := filepath.Join(tmp, "bench-plugin")
	testBin := filepath.Join(tmp, "bench.test")
	if o.parts["go"] {
		logf("building bench/plugin and the test binary of bench/")
		if err := suite.GoBuild(o.root, "./bench/plugin", benchPlugin); err != nil {
			return err
		}
		cmd := exec.Command("go", "test", "-c", "-o", testBin, "./bench")
		cmd.Dir = o.root
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go test -c ./bench: %v\n%s", err, out)
		}
	}

	st, err := startStub()
	if err != nil {
		return err
	}
	defer st.Stop()
	logf("stub provider at %s (pid %d)", st.URL, st.PID)

	// The Go benchmarks.
	gb := goBench{bin: testBin, dir: filepath.Join(o.root, "bench"), env: []string{
		suite.EnvOAuth2Plugin + "=" + o.plugin,
		suite.EnvBenchPlugin + "=" + benchPlugin,
		suite.EnvOIDCPlugin + "=" + o.oidcPlugin,
		"IDPLUG_BENCH_STUB_URL=" + st.URL,
	}}
	if o.parts["go"] {
		// -count runs a benchmark's sub-benchmarks one after the other; running the
		// binary count times instead interleaves them, so that a change in the
		// machine's other load spreads over every case of a comparison.
		for i := range o.goCount {
			logf("go test -bench '^BenchmarkAuthorizationURL$|^BenchmarkInstances$' -benchtime %s (run %d of %d)", o.goBenchDur, i+1, o.goCount)
			if err := gb.run("^BenchmarkAuthorizationURL$|^BenchmarkInstances$", o.goBenchDur, 1); err != nil {
				return err
			}
		}
		for i := range o.goCount {
			logf("go test -bench '^BenchmarkOIDCSignIn$' -benchtime %s (run %d of %d)", o.goBenchDur, i+1, o.goCount)
			if err := gb.run("^BenchmarkOIDCSignIn$", o.goBenchDur, 1); err != nil {
				return err
			}
		}
		logf("go test -bench '^BenchmarkStart$' -benchtime 3x")
		if err := gb.run("^BenchmarkStart$", "3x", 1); err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(o.out), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(o.goOut, gb.output.Bytes(), 0o644); err != nil {
			return err
		}
		rep.GoBench = gb.medians()
	}
	if o.parts["openid"] {
		if err := rep.runOpenID(o, tmp, st); err != nil {
			return err
		}
	}
	if !o.parts["signin"] {
		return rep.finish(o, start, st)
	}

	// Sign-in cases.
	logf("starting idplug serve, the host, and Logto's connector in Node")
	e, err := setup(o, tmp, st)
	if e != nil {
		defer e.close()
	}
	if err != nil {
		return err
	}
	rep.Machine.Node = e.logto.Node
	rep.LogtoConnector = e.logto.Connector

	logf("Logto authorization URL, %s", o.authURLDur)
	if rep.LogtoAuthURL, err = e.logto.AuthURL(o.authURLDur); err != nil {
		return err
	}

	samples := map[string]map[int][]suite.Sample{}
	cpu := map[string]map[int]map[string]time.Duration{}
	for _, c := range signInCases {
		samples[c.key] = map[int][]suite.Sample{}
		cpu[c.key] = map[int]map[string]time.Duration{}
		for _, conc := range concurrencies {
			cpu[c.key][conc] = map[string]time.Duration{}
		}
	}
	per := o.duration / time.Duration(o.rounds)
	for round := range o.rounds {
		for _, conc := range concurrencies {
			// Each round starts at another case, so that no case always runs
			// right after the same neighbour (Node's, say, still winding down).
			for k := range signInCases {
				c := signInCases[(k+round)%len(signInCases)]
				if !o.wants(c.key) {
					continue
				}
				if round == 0 && o.warmup > 0 {
					if _, _, err := e.measure(c, conc, o.warmup); err != nil {
						return err
					}
				}
				logf("round %d/%d: sign-in %s, concurrency %d, %s", round+1, o.rounds, c.key, conc, per)
				s, used, err := e.measure(c, conc, per)
				if err != nil {
					return err
				}
				samples[c.key][conc] = append(samples[c.key][conc], s)
				for role, d := range used {
					cpu[c.key][conc][role] += d
				}
			}
		}
	}
	rep.SignIn = map[string]map[string]signInRun{}
	for _, c := range signInCases {
		rep.SignIn[c.key] = map[string]signInRun{}
		for _, conc := range concurrencies {
			r := signInRun{Result: suite.Summarize(samples[c.key][conc]...), CPUPerOpUs: map[string]float64{}}
			for _, s := range samples[c.key][conc] {
				r.RoundOpsPerSec = append(r.RoundOpsPerSec, float64(s.Ops)/s.Elapsed.Seconds())
			}
			for role, d := range cpu[c.key][conc] {
				if r.Ops > 0 {
					r.CPUPerOpUs[role] = float64(d.Microseconds()) / float64(r.Ops)
				}
			}
			rep.SignIn[c.key][concKey(conc)] = r
		}
	}
	if stats, err := st.Stats(); err == nil && stats.Refused > 0 {
		return fmt.Errorf("the stub provider refused %d requests", stats.Refused)
	}
	e.close()
	e.logto, e.host, e.serve, e.serveDefault, e.bridge = nil, nil, nil, nil, nil
	return rep.finish(o, start, st)
}

// finish measures resident memory when asked to, then prints and writes the report.
func (rep *report) finish(o options, start time.Time, st *stubProc) error {
	if o.parts["rss"] {
		for _, n := range []int{1, 100, 10000} {
			logf("resident memory with %d instances", n)
			r, err := measureRSS(o.plugin, st.URL, n)
			if err != nil {
				return err
			}
			rep.RSS = append(rep.RSS, r)
		}
	}
	rep.Machine.LoadAvgEnd = loadAvg()
	rep.Seconds = time.Since(start).Seconds()
	rep.Commands = commands(o)
	rep.evaluate()
	rep.print(os.Stdout)
	if err := rep.write(o.out); err != nil {
		return err
	}
	logf("wrote %s and %s in %.0fs", o.out, o.goOut, rep.Seconds)
	if rep.Missed > 0 {
		logf("%d of %d targets missed", rep.Missed, len(rep.Targets))
	}
	return nil
}
