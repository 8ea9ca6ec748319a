package main

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/idplug/idplug/internal/printable"
)

// Node's standard streams come back to the plugin through a pipe. Given the
// plugin's own stderr after go-plugin had taken it over, they reached no log
// at all: a Node too old for the bridge's flags, or a connector that threw
// while loading, failed with no word of why.
const (
	// maxNodeLine bounds a line Node prints; the rest of a longer one is dropped.
	maxNodeLine = 2048
	// nodeTail is how many of Node's last lines a failed start quotes.
	nodeTail = 3
	// nodeOutputWait bounds the wait for what Node printed before it exited.
	nodeOutputWait = 2 * time.Second
)

// nodeOutput logs what Node prints, line by line, at debug: a connector's own
// output is third-party text that may hold what it was given (the bridge's
// own lines are scrubbed; a connector's console is not). It keeps the last
// lines for the error of a start that failed.
type nodeOutput struct {
	log  *slog.Logger
	done chan struct{}

	mu   sync.Mutex
	tail []string
}

func newNodeOutput(log *slog.Logger) *nodeOutput {
	return &nodeOutput{log: log, done: make(chan struct{})}
}

// read consumes r until Node's end of it closes.
func (o *nodeOutput) read(r io.ReadCloser) {
	defer close(o.done)
	defer r.Close()
	br := bufio.NewReaderSize(r, maxNodeLine)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			o.add(string(line))
		}
		for errors.Is(err, bufio.ErrBufferFull) { // the rest of a long line
			_, err = br.ReadSlice('\n')
		}
		if err != nil {
			return
		}
	}
}

func (o *nodeOutput) add(line string) {
	line = printable.Line(strings.TrimRight(line, "\r\n"))
	if line == "" {
		return
	}
	o.log.Debug("node: " + line)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.tail = append(o.tail, line)
	if len(o.tail) > nodeTail {
		o.tail = o.tail[1:]
	}
}

// last is Node's last lines, once it has exited and they have been read (or
// nodeOutputWait has passed), cut to 300 bytes each.
func (o *nodeOutput) last() []string {
	select {
	case <-o.done:
	case <-time.After(nodeOutputWait):
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]string, len(o.tail))
	for i, l := range o.tail {
		if cut := printable.Cut(l, 300); cut != l {
			l = cut + "…"
		}
		out[i] = l
	}
	return out
}
