// Package logsink lets two loggers share one output, one of them in batches.
//
// idplug serve logs a line for every HTTP request. Written one by one, each line
// is a write(2) on stderr and a wake-up of whatever reads it, which cost the
// daemon more CPU than the request's JSON. The access log therefore goes through
// the buffered side of a Sink, in batches of up to MaxBuffer bytes at least every
// FlushEvery (nginx's access_log buffer= and flush= make the same trade), while
// every other line goes through the direct side at once, after whatever is
// buffered, so the output keeps the order in which lines were logged.
package logsink

import (
	"io"
	"sync"
	"time"
)

// Defaults of New.
const (
	FlushEvery = 200 * time.Millisecond
	MaxBuffer  = 32 << 10
)

// Sink serializes writes to out from its direct and buffered sides.
type Sink struct {
	mu         sync.Mutex
	out        io.Writer
	buf        []byte
	flushEvery time.Duration
	maxBuffer  int
	timer      *time.Timer // armed while buf holds lines
	timerGen   uint64      // which arming the timer is, so a late one does nothing
	closed     bool
	err        error // the first write error, reported by Close
}

// New returns a Sink writing to out. Buffered lines wait at most flushEvery, and
// the buffer is written as soon as it holds maxBuffer bytes; zero values take the
// defaults.
func New(out io.Writer, flushEvery time.Duration, maxBuffer int) *Sink {
	if flushEvery <= 0 {
		flushEvery = FlushEvery
	}
	if maxBuffer <= 0 {
		maxBuffer = MaxBuffer
	}
	return &Sink{out: out, flushEvery: flushEvery, maxBuffer: maxBuffer}
}

// Direct returns the side that writes at once.
func (s *Sink) Direct() io.Writer { return direct{s} }

// Buffered returns the side that writes in batches.
func (s *Sink) Buffered() io.Writer { return buffered{s} }

type direct struct{ s *Sink }

func (d direct) Write(p []byte) (int, error) {
	s := d.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flushLocked()
	n, err := s.out.Write(p)
	s.noteLocked(err)
	return n, err
}

type buffered struct{ s *Sink }

func (b buffered) Write(p []byte) (int, error) {
	s := b.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		// After Close nothing flushes later: write through.
		n, err := s.out.Write(p)
		s.noteLocked(err)
		return n, err
	}
	s.buf = append(s.buf, p...)
	switch {
	case len(s.buf) >= s.maxBuffer:
		s.flushLocked()
	case s.timer == nil:
		s.timerGen++
		gen := s.timerGen
		s.timer = time.AfterFunc(s.flushEvery, func() { s.timedFlush(gen) })
	}
	return len(p), nil
}

// timedFlush is the timer of arming gen firing. A timer that fired while another
// writer held the lock may find its lines already written and a newer timer
// armed: it leaves both alone.
func (s *Sink) timedFlush(gen uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.timer == nil || gen != s.timerGen {
		return
	}
	s.timer = nil
	s.flushLocked()
}

// Flush writes what is buffered.
func (s *Sink) Flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flushLocked()
}

// Close writes what is buffered; later buffered lines are written at once. It
// returns the first error writing to out met, if any.
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flushLocked()
	s.closed = true
	return s.err
}

func (s *Sink) flushLocked() {
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	if len(s.buf) == 0 {
		return
	}
	_, err := s.out.Write(s.buf)
	s.noteLocked(err)
	// Keep the array unless a burst grew it well past the limit.
	if cap(s.buf) > 4*s.maxBuffer {
		s.buf = nil
	} else {
		s.buf = s.buf[:0]
	}
}

func (s *Sink) noteLocked(err error) {
	if err != nil && s.err == nil {
		s.err = err
	}
}
