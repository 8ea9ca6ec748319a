// Package bench is idplug's benchmark suite: the Go benchmarks of bench_test.go (run
// with `go test -bench`), the driver that runs them with the cases that are not Go
// benchmarks and prints one table (cmd/idplug-bench), Logto's connector in Node for
// comparison (logto/), and a fast stub identity provider they all sign in against.
// scripts/bench runs it all; BENCHMARKS.md has the figures.
package bench
