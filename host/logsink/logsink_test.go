package logsink

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder records every Write call it receives.
type recorder struct {
	mu     sync.Mutex
	writes []string
	wrote  chan struct{}
	err    error
}

func newRecorder() *recorder { return &recorder{wrote: make(chan struct{}, 100)} }

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	r.writes = append(r.writes, string(p))
	r.mu.Unlock()
	r.wrote <- struct{}{}
	return len(p), r.err
}

func (r *recorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.writes...)
}

func TestBufferedLinesWaitAndKeepTheirOrder(t *testing.T) {
	out := newRecorder()
	s := New(out, time.Hour, 1<<20)
	b, d := s.Buffered(), s.Direct()
	_, _ = b.Write([]byte("access 1\n"))
	_, _ = b.Write([]byte("access 2\n"))
	if got := out.all(); len(got) != 0 {
		t.Fatalf("buffered lines were written at once: %q", got)
	}
	_, _ = d.Write([]byte("error\n"))
	got := out.all()
	want := []string{"access 1\naccess 2\n", "error\n"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("writes = %q, want %q", got, want)
	}
}

func TestBufferedLinesAreFlushedInTime(t *testing.T) {
	out := newRecorder()
	s := New(out, 20*time.Millisecond, 1<<20)
	_, _ = s.Buffered().Write([]byte("access\n"))
	select {
	case <-out.wrote:
	case <-time.After(10 * time.Second):
		t.Fatal("a buffered line was never written")
	}
	if got := out.all(); len(got) != 1 || got[0] != "access\n" {
		t.Fatalf("writes = %q", got)
	}
}

// A timer that fires late, after a direct write flushed its lines and a new
// buffered line armed a new timer, must neither flush early nor disarm the new one.
func TestALateTimerLeavesTheNextBatchAlone(t *testing.T) {
	out := newRecorder()
	s := New(out, time.Hour, 1<<20)
	_, _ = s.Buffered().Write([]byte("a\n")) // arms timer 1
	_, _ = s.Direct().Write([]byte("d\n"))   // flushes "a", stops timer 1
	_, _ = s.Buffered().Write([]byte("b\n")) // arms timer 2
	s.timedFlush(1)                          // timer 1, firing late
	if got := out.all(); len(got) != 2 {
		t.Fatalf("writes = %q: the late timer flushed", got)
	}
	s.mu.Lock()
	armed := s.timer != nil
	s.mu.Unlock()
	if !armed {
		t.Fatal("the late timer disarmed the next batch's timer")
	}
	s.timedFlush(2)
	if got := out.all(); len(got) != 3 || got[2] != "b\n" {
		t.Fatalf("writes = %q", got)
	}
}

func TestAFullBufferIsWrittenAtOnce(t *testing.T) {
	out := newRecorder()
	s := New(out, time.Hour, 16)
	b := s.Buffered()
	_, _ = b.Write([]byte("0123456789\n"))
	_, _ = b.Write([]byte("abcdefghij\n"))
	if got := out.all(); len(got) != 1 || got[0] != "0123456789\nabcdefghij\n" {
		t.Fatalf("writes = %q", got)
	}
}

func TestCloseFlushesAndWritesThroughAfterwards(t *testing.T) {
	var out bytes.Buffer
	s := New(&out, time.Hour, 1<<20)
	_, _ = s.Buffered().Write([]byte("last request\n"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, _ = s.Buffered().Write([]byte("after close\n"))
	if out.String() != "last request\nafter close\n" {
		t.Fatalf("out = %q", out.String())
	}
}

func TestCloseReportsAWriteError(t *testing.T) {
	out := newRecorder()
	out.err = errors.New("stderr is gone")
	s := New(out, time.Hour, 1<<20)
	_, _ = s.Buffered().Write([]byte("line\n"))
	if err := s.Close(); err == nil || err.Error() != "stderr is gone" {
		t.Fatalf("Close = %v", err)
	}
}

func TestConcurrentWritersLoseNothing(t *testing.T) {
	var out bytes.Buffer
	s := New(&out, time.Millisecond, 64)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			side := s.Buffered()
			if w%2 == 0 {
				side = s.Direct()
			}
			for range 200 {
				_, _ = side.Write([]byte("line\n"))
			}
		}()
	}
	wg.Wait()
	_ = s.Close()
	if n := strings.Count(out.String(), "line\n"); n != 1600 || len(out.String()) != 1600*5 {
		t.Fatalf("%d lines in %d bytes, want 1600 whole lines", n, len(out.String()))
	}
}
