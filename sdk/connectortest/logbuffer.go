package connectortest

import (
	"bytes"
	"sync"
)

// LogBuffer keeps log lines up to a limit: the newest lines are the ones that
// explain a failure. A Driver can use one for Log, LogMark and LogSince; it is safe
// for concurrent use, and its zero value is ready.
type LogBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	written int64 // bytes written in all, kept or not
}

const maxLog = 64 << 10

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	b.written += int64(len(p))
	if over := b.buf.Len() - maxLog; over > 0 {
		b.buf.Next(over)
	}
	return len(p), nil
}

// Mark is a position in the log, for Since.
func (b *LogBuffer) Mark() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.written
}

// Since returns what was written after mark, as far as the buffer still holds it.
func (b *LogBuffer) Since(mark int64) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := b.written - mark
	if n <= 0 {
		return ""
	}
	if n > int64(b.buf.Len()) {
		n = int64(b.buf.Len())
	}
	all := b.buf.Bytes()
	return string(all[len(all)-int(n):])
}

func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
