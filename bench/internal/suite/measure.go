// Package suite holds what idplug's benchmark suite is made of: the connector
// configuration every case shares, the load runner, the readers of a process's CPU
// time and memory, and the clients of each case (the /v1 API of a running idplug, a
// bare go-plugin client, a plain golang.org/x/oauth2 sign-in).
package suite

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Sample is one timed run of an operation.
type Sample struct {
	Ops      int
	Errors   int
	FirstErr error
	Elapsed  time.Duration
	// Latencies of the operations that succeeded, in no particular order.
	Latencies []time.Duration
}

// Op is one operation of a run. worker is in [0, concurrency); i counts the worker's
// operations.
type Op func(ctx context.Context, worker, i int) error

// Run calls op from concurrency workers, each one operation after the other, until d
// has passed, and times every operation. Operations in flight at the end finish and
// are counted; Elapsed runs until the last one has.
func Run(ctx context.Context, concurrency int, d time.Duration, op Op) Sample {
	type part struct {
		lat      []time.Duration
		errors   int
		firstErr error
	}
	parts := make([]part, concurrency)
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for w := range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := &parts[w]
			p.lat = make([]time.Duration, 0, 4096)
			now := time.Now()
			for i := 0; now.Before(deadline) && ctx.Err() == nil; i++ {
				err := op(ctx, w, i)
				end := time.Now()
				if err != nil {
					p.errors++
					if p.firstErr == nil {
						p.firstErr = err
					}
				} else {
					p.lat = append(p.lat, end.Sub(now))
				}
				now = end
			}
		}()
	}
	wg.Wait()
	s := Sample{Elapsed: time.Since(start)}
	for _, p := range parts {
		s.Ops += len(p.lat)
		s.Errors += p.errors
		if s.FirstErr == nil {
			s.FirstErr = p.firstErr
		}
		s.Latencies = append(s.Latencies, p.lat...)
	}
	return s
}

// Result sums up the samples of one case.
type Result struct {
	Ops       int     `json:"ops"`
	Errors    int     `json:"errors"`
	Seconds   float64 `json:"seconds"`
	OpsPerSec float64 `json:"ops_per_sec"`
	// NsPerOp is the elapsed time per operation (Seconds/Ops); at concurrency 1 it
	// is the mean latency.
	NsPerOp float64 `json:"ns_per_op"`
	P50Ns   float64 `json:"p50_ns"`
	P99Ns   float64 `json:"p99_ns"`
}

// Summarize merges samples taken of one case (rounds interleaved with other cases):
// throughput is all operations over all the time they took.
func Summarize(samples ...Sample) Result {
	var r Result
	var elapsed time.Duration
	var lat []time.Duration
	for _, s := range samples {
		r.Ops += s.Ops
		r.Errors += s.Errors
		elapsed += s.Elapsed
		lat = append(lat, s.Latencies...)
	}
	r.Seconds = elapsed.Seconds()
	if r.Ops > 0 && r.Seconds > 0 {
		r.OpsPerSec = float64(r.Ops) / r.Seconds
		r.NsPerOp = float64(elapsed.Nanoseconds()) / float64(r.Ops)
	}
	slices.Sort(lat)
	r.P50Ns = float64(Percentile(lat, 0.50))
	r.P99Ns = float64(Percentile(lat, 0.99))
	return r
}

// Percentile returns the q-quantile (nearest rank) of sorted.
func Percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}
