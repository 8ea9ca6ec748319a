package main

import "fmt"

// commands lists, for the report, the commands that reproduce this run.
func commands(o options) []string {
	flags := fmt.Sprintf("-duration %s -rounds %d -warmup %s -authurl-duration %s -benchtime %s -count %d",
		o.duration, o.rounds, o.warmup, o.authURLDur, o.goBenchDur, o.goCount)
	env := "IDPLUG_BENCH_OAUTH2_PLUGIN=bin/plugins/idplug-connector-oauth2 IDPLUG_BENCH_OIDC_PLUGIN=bin/plugins/idplug-connector-oidc IDPLUG_BENCH_PLUGIN=<bench/plugin built> IDPLUG_BENCH_STUB_URL=<stub>"
	return []string{
		"make build",
		"npm ci --prefix bench/logto --include=dev",
		"(cd bench/hydra && CGO_ENABLED=1 go build -tags sqlite,sqlite_omit_load_extension -o ../../bin/bench/hydra github.com/ory/hydra/v2)   # scripts/bench does this when bench/hydra changed",
		"scripts/bench " + flags + "   # builds bench/cmd/idplug-bench and runs it with these flags; they are the defaults",
		"  go build -o <bench/plugin built> ./bench/plugin && go test -c -o bench.test ./bench",
		fmt.Sprintf("  %d times: (cd bench && %s bench.test -test.run '^$' -test.bench '^BenchmarkAuthorizationURL$|^BenchmarkInstances$' -test.benchtime %s -test.count 1)", o.goCount, env, o.goBenchDur),
		fmt.Sprintf("  %d times: (cd bench && %s bench.test -test.run '^$' -test.bench '^BenchmarkOIDCSignIn$' -test.benchtime %s -test.count 1)", o.goCount, env, o.goBenchDur),
		fmt.Sprintf("  (cd bench && %s bench.test -test.run '^$' -test.bench '^BenchmarkStart$' -test.benchtime 3x)", env),
		"  then the OpenID Provider part (idplug serve and bin/bench/hydra, with `idplug-bench consent` as Hydra's login and consent app),",
		"  the sign-in cases, Logto's authorization URL (bench/logto/bench.mjs) and the memory children (idplug-bench rss -n 1|100|10000)",
	}
}
