package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"

	"github.com/idplug/idplug/bench/internal/suite"
)

// goBench runs the Go benchmarks of bench/ from their test binary.
type goBench struct {
	bin    string
	dir    string
	env    []string
	output bytes.Buffer
	lines  []suite.GoBench
}

func (g *goBench) run(pattern, benchtime string, count int) error {
	cmd := exec.Command(g.bin, "-test.run", "^$", "-test.bench", pattern, "-test.benchtime", benchtime,
		"-test.count", fmt.Sprint(count), "-test.timeout", "20m")
	cmd.Dir = g.dir
	cmd.Env = append(os.Environ(), g.env...)
	var out bytes.Buffer
	cmd.Stdout = io.MultiWriter(&out, os.Stderr)
	cmd.Stderr = os.Stderr
	err := cmd.Run()
	g.output.Write(out.Bytes())
	if err != nil {
		return fmt.Errorf("go test -bench %s: %w", pattern, err)
	}
	lines := suite.ParseGoBench(&out)
	if len(lines) == 0 {
		return fmt.Errorf("go test -bench %s printed no result", pattern)
	}
	g.lines = append(g.lines, lines...)
	return nil
}

// goBenchSummary is a benchmark's median over its -count runs.
type goBenchSummary struct {
	NsPerOp     float64   `json:"ns_per_op"`
	P50Ns       float64   `json:"p50_ns,omitempty"`
	P99Ns       float64   `json:"p99_ns,omitempty"`
	CPUNs       float64   `json:"cpu_ns_per_op,omitempty"`
	BytesPerOp  float64   `json:"bytes_per_op,omitempty"`
	AllocsPerOp float64   `json:"allocs_per_op,omitempty"`
	Runs        []float64 `json:"runs_ns_per_op"`
}

func (g *goBench) medians() map[string]goBenchSummary {
	by := map[string][]suite.GoBench{}
	var order []string
	for _, l := range g.lines {
		if _, ok := by[l.Name]; !ok {
			order = append(order, l.Name)
		}
		by[l.Name] = append(by[l.Name], l)
	}
	out := map[string]goBenchSummary{}
	for _, name := range order {
		ls := by[name]
		m := func(unit string) float64 {
			var v []float64
			for _, l := range ls {
				if x, ok := l.Metrics[unit]; ok {
					v = append(v, x)
				}
			}
			return median(v)
		}
		s := goBenchSummary{NsPerOp: m("ns/op"), P50Ns: m("p50-ns"), P99Ns: m("p99-ns"), CPUNs: m("cpu-ns/op"), BytesPerOp: m("B/op"), AllocsPerOp: m("allocs/op")}
		for _, l := range ls {
			s.Runs = append(s.Runs, l.Metrics["ns/op"])
		}
		out[name] = s
	}
	return out
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}
