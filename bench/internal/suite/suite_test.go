package suite

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParseGoBench(t *testing.T) {
	out := `goos: linux
BenchmarkAuthorizationURL/host-2         	   14797	    237026 ns/op	    208608 p50-ns	    706880 p99-ns	    7682 B/op	     124 allocs/op
BenchmarkStart/50-2 	       3	1890000000 ns/op
--- FAIL: BenchmarkBroken
PASS
`
	got := ParseGoBench(strings.NewReader(out))
	if len(got) != 2 {
		t.Fatalf("parsed %d lines, want 2: %+v", len(got), got)
	}
	if got[0].Name != "BenchmarkAuthorizationURL/host" || got[0].N != 14797 ||
		got[0].Metrics["ns/op"] != 237026 || got[0].Metrics["p99-ns"] != 706880 || got[0].Metrics["allocs/op"] != 124 {
		t.Errorf("first line = %+v", got[0])
	}
	if got[1].Name != "BenchmarkStart/50" || got[1].Metrics["ns/op"] != 1.89e9 {
		t.Errorf("second line = %+v", got[1])
	}
}

func TestRunAndSummarize(t *testing.T) {
	fail := errors.New("odd")
	// Half a second: a stall of the process does not leave it without ops.
	s := Run(context.Background(), 4, 500*time.Millisecond, func(_ context.Context, w, i int) error {
		time.Sleep(time.Millisecond)
		if i%2 == 1 {
			return fail
		}
		return nil
	})
	if s.Ops == 0 || s.Errors == 0 || !errors.Is(s.FirstErr, fail) || len(s.Latencies) != s.Ops {
		t.Fatalf("sample = ops %d errors %d first %v latencies %d", s.Ops, s.Errors, s.FirstErr, len(s.Latencies))
	}
	r := Summarize(s, s)
	if r.Ops != 2*s.Ops || r.OpsPerSec <= 0 || r.P50Ns < float64(time.Millisecond) || r.P99Ns < r.P50Ns {
		t.Errorf("summary = %+v", r)
	}
}

func TestPercentile(t *testing.T) {
	var v []time.Duration
	for i := 1; i <= 100; i++ {
		v = append(v, time.Duration(i))
	}
	if p := Percentile(v, 0.5); p != 50 {
		t.Errorf("p50 = %d", p)
	}
	if p := Percentile(v, 0.99); p != 99 {
		t.Errorf("p99 = %d", p)
	}
	if p := Percentile(nil, 0.5); p != 0 {
		t.Errorf("p50 of nothing = %d", p)
	}
}

func TestProcReaders(t *testing.T) {
	if _, err := CPUTime(os.Getpid()); err != nil {
		t.Error(err)
	}
	if kib, err := ResidentKiB(os.Getpid()); err != nil || kib <= 0 {
		t.Errorf("ResidentKiB = %d, %v", kib, err)
	}
}

// helperParentEnv makes the test binary the parent of TestChildrenDieWithTheirParent:
// it starts a long sleep with DieWithParent, prints its pid and waits.
const helperParentEnv = "IDPLUG_BENCH_TEST_PARENT"

func TestMain(m *testing.M) {
	if os.Getenv(helperParentEnv) != "" {
		child := exec.Command("sleep", "60")
		DieWithParent(child, syscall.SIGKILL)
		if err := child.Start(); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println(child.Process.Pid)
		_ = child.Wait()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestChildrenDieWithTheirParent(t *testing.T) {
	parent := exec.Command(os.Args[0], "-test.run", "^$")
	parent.Env = append(os.Environ(), helperParentEnv+"=1")
	out, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = parent.Process.Kill()
		_ = parent.Wait()
		t.Fatalf("the helper parent printed %q: %v", line, err)
	}
	child, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		_ = parent.Process.Kill()
		_ = parent.Wait()
		t.Fatalf("the helper parent printed %q", line)
	}
	_ = parent.Process.Kill() // no chance to clean up after itself
	_ = parent.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(child, 0) == nil {
		if time.Now().After(deadline) {
			_ = syscall.Kill(child, syscall.SIGKILL)
			t.Fatalf("the child %d outlived its parent", child)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
