package main

import (
	"context"
	"fmt"
	"time"

	"github.com/idplug/idplug/bench/internal/suite"
)

// signInRun is a case's measurement at one concurrency.
type signInRun struct {
	suite.Result
	// CPUPerOpUs is the CPU time (user+system) each process used per sign-in, in µs.
	CPUPerOpUs map[string]float64 `json:"cpu_per_op_us"`
	// RoundOpsPerSec is the throughput of each round, in round order: ratios
	// between cases are taken round by round (see report.roundRatio).
	RoundOpsPerSec []float64 `json:"round_ops_per_sec"`
}

// measure runs case c at concurrency conc for d; it returns the sample and the
// CPU time each of the case's processes used, by role.
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
		s, err = e.logto.SignIn(conc, d, c.full)
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

// concKey is the key of a concurrency in the report's sign_in figures.
func concKey(c int) string { return fmt.Sprintf("c%d", c) }
