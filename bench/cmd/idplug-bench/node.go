package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/idplug/idplug/bench/internal/suite"
)

// logto is bench/logto/bench.mjs running Logto's connector in one Node process.
type logto struct {
	PID       int
	Node      string
	Connector string
	cmd       *exec.Cmd
	in        io.WriteCloser
	out       *bufio.Reader
}

// nodeAnswer is one answer line of bench.mjs.
type nodeAnswer struct {
	OK         bool      `json:"ok"`
	Error      string    `json:"error"`
	Node       string    `json:"node"`
	Connector  string    `json:"connector"`
	PID        int       `json:"pid"`
	Sample     string    `json:"sample"`
	Ops        int       `json:"ops"`
	Errors     int       `json:"errors"`
	FirstError string    `json:"firstError"`
	ElapsedNs  float64   `json:"elapsedNs"`
	P50Ns      float64   `json:"p50Ns"`
	P99Ns      float64   `json:"p99Ns"`
	LatNs      []float64 `json:"latNs"`
}

func startLogto(node, dir string, config map[string]any, state, expectedID string) (*logto, error) {
	cmd := exec.Command(node, "bench.mjs")
	suite.DieWithParent(cmd, syscall.SIGKILL)
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", node, err)
	}
	l := &logto{PID: cmd.Process.Pid, cmd: cmd, in: in, out: bufio.NewReaderSize(out, 1<<20)}
	a, err := l.call(map[string]any{"cmd": "init", "config": config, "redirectUri": suite.RedirectURI, "state": state, "expectedId": expectedID})
	if err != nil {
		l.Stop()
		return nil, err
	}
	l.Node, l.Connector = a.Node, a.Connector
	return l, nil
}

func (l *logto) call(cmd map[string]any) (*nodeAnswer, error) {
	b, _ := json.Marshal(cmd)
	if _, err := l.in.Write(append(b, '\n')); err != nil {
		return nil, fmt.Errorf("logto %s: %w", cmd["cmd"], err)
	}
	line, err := l.out.ReadBytes('\n')
	if err != nil {
		return nil, fmt.Errorf("logto %s: %w", cmd["cmd"], err)
	}
	var a nodeAnswer
	if err := json.Unmarshal(line, &a); err != nil {
		return nil, fmt.Errorf("logto %s: %w", cmd["cmd"], err)
	}
	if !a.OK {
		return nil, fmt.Errorf("logto %s: %s", cmd["cmd"], a.Error)
	}
	if a.Errors > 0 {
		return nil, fmt.Errorf("logto %s: %d operations failed, the first with: %s", cmd["cmd"], a.Errors, a.FirstError)
	}
	return &a, nil
}

// AuthURL builds authorization URLs one after the other for d.
func (l *logto) AuthURL(d time.Duration) (suite.Result, error) {
	a, err := l.call(map[string]any{"cmd": "authurl", "durationMs": d.Milliseconds()})
	if err != nil {
		return suite.Result{}, err
	}
	r := suite.Result{Ops: a.Ops, Seconds: a.ElapsedNs / 1e9, P50Ns: a.P50Ns, P99Ns: a.P99Ns}
	if a.Ops > 0 {
		r.OpsPerSec = float64(a.Ops) / r.Seconds
		r.NsPerOp = a.ElapsedNs / float64(a.Ops)
	}
	return r, nil
}

// SignIn completes sign-ins from concurrency async workers for d; full ones
// start with the authorization URL.
func (l *logto) SignIn(concurrency int, d time.Duration, full bool) (suite.Sample, error) {
	a, err := l.call(map[string]any{"cmd": "signin", "concurrency": concurrency, "durationMs": d.Milliseconds(), "full": full})
	if err != nil {
		return suite.Sample{}, err
	}
	s := suite.Sample{Ops: a.Ops, Elapsed: time.Duration(a.ElapsedNs), Latencies: make([]time.Duration, len(a.LatNs))}
	for i, v := range a.LatNs {
		s.Latencies[i] = time.Duration(v)
	}
	return s, nil
}

func (l *logto) Stop() {
	_, _ = l.in.Write([]byte(`{"cmd":"exit"}` + "\n"))
	done := make(chan struct{})
	go func() { _ = l.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = l.cmd.Process.Kill()
		<-done
	}
}
