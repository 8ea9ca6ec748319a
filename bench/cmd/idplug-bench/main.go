// Command idplug-bench runs idplug's benchmark suite and prints one table with every
// figure and the ratios the project's targets are stated in; it writes the same
// figures as JSON (artifacts/bench.json). scripts/bench runs it; BENCHMARKS.md
// describes every case.
//
// It starts the stub provider (a process of its own), runs the Go benchmarks of
// bench/ with `go test -bench`, then measures sign-in completion through a running
// `idplug serve`, through the host package (this process is the host), in-process,
// with golang.org/x/oauth2, and with Logto's connector in Node, interleaving the
// cases round by round so that other load on the machine spreads over all of them;
// then a full OpenID Connect sign-in through idplug serve as an OpenID Provider and
// through Ory Hydra, side by side (openid.go).
// Everything talks over loopback only and every run is bounded in time.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "stub":
			stubMain()
			return
		case "rss":
			rssMain(os.Args[2:])
			return
		case "consent":
			consentMain(os.Args[2:])
			return
		}
	}
	o, err := parseOptions()
	if err != nil {
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

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "idplug-bench:", err)
	os.Exit(1)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}
