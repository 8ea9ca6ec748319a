package store_test

import (
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/idplug/idplug/host/store"
	"github.com/idplug/idplug/internal/pgtest"
)

// BenchmarkConsumeFlow: the one store write a sign-in adds.
func BenchmarkConsumeFlow(b *testing.B) {
	pg := pgtest.Start(b) // on the parent: its cleanup runs after every round
	for _, tc := range []struct {
		name string
		url  func(b *testing.B) string
	}{
		{"sqlite", func(b *testing.B) string { return "sqlite:" + b.TempDir() + "/bench.db" }},
		{"postgres", func(*testing.B) string { return pg.URL }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s, err := store.Open(b.Context(), tc.url(b), store.Options{Migrate: true})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			s = store.Timed(s, 5*time.Second, 5*time.Second, nil)
			var n atomic.Int64
			exp := time.Now().Add(time.Hour)
			start := time.Now().UnixNano()
			b.SetParallelism(8)
			before := cpuTime()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := s.ConsumeFlow(b.Context(), fmt.Sprint("flow-", start, "-", n.Add(1)), exp); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64((cpuTime()-before).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime is the CPU time this process has used (for PostgreSQL, not the
// server's: it runs in processes of its own).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
