// Command test-summary reads the log of `go test` (text, not -json, so the log
// stays readable) and prints which tests failed, package by package, so a
// failing run ends with the names to look for instead of a scroll back through
// thousands of lines. It exits 1 when anything failed.
//
//	go test ./... 2>&1 | tee artifacts/test.log; go run ./scripts/test-summary artifacts/test.log
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: test-summary LOG")
		os.Exit(2)
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "test-summary:", err)
		os.Exit(2)
	}
	defer f.Close()
	failed, err := parse(f)
	if err != nil {
		fmt.Fprintln(os.Stderr, "test-summary:", err)
		os.Exit(2)
	}
	if len(failed) == 0 {
		return
	}
	write(os.Stdout, failed, os.Args[1])
	os.Exit(1)
}

// pkgFailure is one package that failed, and the tests in it that did.
type pkgFailure struct {
	Package string
	// Tests are the failed tests, leaves only: a parent that failed because a
	// subtest did is left out.
	Tests []string
	// Why is set when the package failed without a failed test: it did not
	// build, or it panicked or timed out outside a test's report.
	Why string
}

var (
	failLine = regexp.MustCompile(`^\s*--- FAIL: (\S+)`)
	pkgFail  = regexp.MustCompile(`^FAIL\s+(\S+)(?:\s+(.*))?$`)
	pkgOK    = regexp.MustCompile(`^(ok|\?)\s+\S+`)
	panicked = regexp.MustCompile(`^panic: (.*)`)
)

// parse reads `go test` output. Without -v, go test prints each package's
// output in one block that ends with "ok pkg" or "FAIL pkg", so the failed
// tests seen since the last package line belong to the next FAIL line.
func parse(r io.Reader) ([]pkgFailure, error) {
	var (
		out     []pkgFailure
		pending []string
		panic   string
	)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case failLine.MatchString(line):
			pending = append(pending, failLine.FindStringSubmatch(line)[1])
		case panicked.MatchString(line) && panic == "":
			panic = panicked.FindStringSubmatch(line)[1]
		case pkgOK.MatchString(line):
			pending, panic = nil, ""
		case pkgFail.MatchString(line):
			m := pkgFail.FindStringSubmatch(line)
			pf := pkgFailure{Package: m[1], Tests: leaves(pending)}
			switch {
			case strings.Contains(m[2], "[build failed]"), strings.Contains(m[2], "[setup failed]"):
				pf.Why = "did not build"
			case panic != "":
				pf.Why = "panic: " + panic
			case len(pf.Tests) == 0:
				pf.Why = "failed outside a test (see the log)"
			}
			out = append(out, pf)
			pending, panic = nil, ""
		}
	}
	return out, sc.Err()
}

// leaves drops every test that is the parent of another one in names.
func leaves(names []string) []string {
	var out []string
	for _, n := range names {
		parent := false
		for _, o := range names {
			if strings.HasPrefix(o, n+"/") {
				parent = true
				break
			}
		}
		if !parent && !contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func write(w io.Writer, failed []pkgFailure, log string) {
	tests := 0
	for _, p := range failed {
		tests += len(p.Tests)
	}
	fmt.Fprintf(w, "\n==> FAILED: %d test(s) in %d package(s) (the full log is %s)\n", tests, len(failed), log)
	for _, p := range failed {
		fmt.Fprintf(w, "  %s\n", p.Package)
		if p.Why != "" {
			fmt.Fprintf(w, "      (%s)\n", p.Why)
		}
		for _, t := range p.Tests {
			fmt.Fprintf(w, "      %s\n", t)
		}
	}
	fmt.Fprintln(w, "  run one again: go test -race -count=1 -run '^TestName$/^subtest$' ./path/to/package")
	for _, p := range failed {
		if strings.HasSuffix(p.Package, "/deploy/helm/charttest") {
			// A module of its own, which the repository's root does not see.
			fmt.Fprintln(w, "  (the chart's: cd deploy/helm/charttest && go test -race -count=1 -run '^TestName$' .)")
			break
		}
	}
}
