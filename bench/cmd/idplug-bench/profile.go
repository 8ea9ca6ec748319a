package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/idplug/idplug/bench/internal/suite"
)

// profile runs the sign-in at concurrency 16 through /v1, the host package and
// in-process, and the full /v1 sign-in (default store) at concurrency 1, and
// records where the CPU time goes: perf for the idplug and plugin
// processes (Go keeps frame pointers, so perf sees Go stacks), runtime/pprof for this
// process when it is the host. Reports land in dir.
func profile(o options) error {
	if _, err := exec.LookPath("perf"); err != nil {
		return errors.New("perf is not installed (Debian: apt-get install linux-perf)")
	}
	if err := os.MkdirAll(o.profileDir, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "idplug-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	st, err := startStub()
	if err != nil {
		return err
	}
	defer st.Stop()
	e, err := setup(o, tmp, st)
	if e != nil {
		defer e.close()
	}
	if err != nil {
		return err
	}
	d := 5 * time.Second
	if o.quick {
		d = time.Second
	}
	byKey := map[string]signInCase{}
	for _, c := range signInCases {
		byKey[c.key] = c
	}

	// /v1: perf on idplug serve and on its plugin.
	// The full /v1 sign-in as served by default, one at a time: the wake-ups of
	// each process when nothing overlaps.
	if err := e.profiled(byKey["full"], 1, d, map[string]int{"full-c1-idplug": e.serveDefault.PID, "full-c1-plugin": e.serveDefaultPl}, ""); err != nil {
		return err
	}
	// The same at concurrency 16, where the two cores are the limit: CPU per sign-in.
	if err := e.profiled(byKey["full"], 16, d, map[string]int{"full-c16-idplug": e.serveDefault.PID, "full-c16-plugin": e.serveDefaultPl}, "full-c16-client"); err != nil {
		return err
	}
	if err := e.profiled(byKey["v1"], 16, d, map[string]int{"v1-idplug": e.serve.PID, "v1-plugin": e.servePl}, ""); err != nil {
		return err
	}
	// Host package: pprof of this process, perf on the plugin.
	if err := e.profiled(byKey["host"], 16, d, map[string]int{"host-plugin": e.hostPl}, "host-package"); err != nil {
		return err
	}
	// In-process: pprof of this process.
	if err := e.profiled(byKey["inprocess"], 16, d, nil, "inprocess"); err != nil {
		return err
	}
	logf("profiles written to %s", o.profileDir)
	return nil
}

func (e *env) profiled(c signInCase, conc int, d time.Duration, perfPIDs map[string]int, pprofName string) error {
	dir := e.o.profileDir
	var perfs []*exec.Cmd
	for name, pid := range perfPIDs {
		cmd := exec.Command("perf", "record", "-F", "1999", "-g", "-p", fmt.Sprint(pid), "-o", filepath.Join(dir, name+".perf.data"))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			return err
		}
		perfs = append(perfs, cmd)
		// Wake-ups: context switches per process, over the same run.
		stat := exec.Command("perf", "stat", "-e", "context-switches,task-clock", "-p", fmt.Sprint(pid), "-o", filepath.Join(dir, name+".stat.txt"))
		if err := stat.Start(); err != nil {
			return err
		}
		perfs = append(perfs, stat)
	}
	var pf *os.File
	if pprofName != "" {
		var err error
		if pf, err = os.Create(filepath.Join(dir, pprofName+".pprof")); err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
	}
	time.Sleep(300 * time.Millisecond) // let perf attach
	logf("profiling sign-in %s at concurrency %d for %s", c.key, conc, d)
	s := suite.Run(context.Background(), conc, d, c.op(e))
	if pf != nil {
		pprof.StopCPUProfile()
		pf.Close()
	}
	for _, cmd := range perfs {
		_ = cmd.Process.Signal(syscall.SIGINT)
		_ = cmd.Wait()
	}
	if s.Errors > 0 {
		return fmt.Errorf("%s: %d sign-ins failed: %v", c.key, s.Errors, s.FirstErr)
	}
	logf("%s: %.0f sign-ins/s while profiled (%d sign-ins: divide the .stat.txt counts by it)", c.key, float64(s.Ops)/s.Elapsed.Seconds(), s.Ops)
	for name := range perfPIDs {
		data := filepath.Join(dir, name+".perf.data")
		for _, rep := range []struct{ suffix, children string }{{"flat", "--no-children"}, {"cumulative", "--children"}} {
			out, err := exec.Command("perf", "report", "-i", data, "--stdio", rep.children, "-g", "none",
				"--percent-limit", "0.7", "--sort", "symbol").Output()
			if err != nil {
				return fmt.Errorf("perf report %s: %w", data, err)
			}
			if err := os.WriteFile(filepath.Join(dir, name+"."+rep.suffix+".txt"), out, 0o644); err != nil {
				return err
			}
		}
	}
	if pprofName != "" {
		for _, rep := range []struct{ suffix, flag string }{{"flat", "-top"}, {"cumulative", "-top"}} {
			args := []string{"tool", "pprof", rep.flag, "-nodecount", "60"}
			if rep.suffix == "cumulative" {
				args = append(args, "-cum")
			}
			args = append(args, filepath.Join(dir, pprofName+".pprof"))
			var out bytes.Buffer
			cmd := exec.Command("go", args...)
			cmd.Stdout = &out
			cmd.Stderr = os.Stderr
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("go tool pprof: %w", err)
			}
			if err := os.WriteFile(filepath.Join(dir, pprofName+"."+rep.suffix+".txt"), out.Bytes(), 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}
