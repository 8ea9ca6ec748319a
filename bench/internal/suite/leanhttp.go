package suite

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"
)

// LeanClient is the load generator's HTTP/1.1 client for /v1: one kept connection
// per caller, the request written in one buffer, the answer read with
// Content-Length only. On a two-core machine every microsecond the client spends is
// taken from the server it measures; net/http's client hands each request between
// three goroutines (the caller, the connection's writer and its reader), this one
// stays in the caller's. Logto's connector in Node, which the sign-in is compared
// with, runs in its own process with no client at all. -client nethttp measures
// with net/http instead.
type LeanClient struct {
	Addr string // host:port

	mu   sync.Mutex
	idle []*leanConn
}

type leanConn struct {
	c  net.Conn
	br *bufio.Reader
	wb []byte
}

// maxLeanBody caps an answer's body.
const maxLeanBody = 1 << 20

// Post sends a POST with a JSON body and returns the status and body of the answer.
func (l *LeanClient) Post(ctx context.Context, path, bearer string, body []byte) (int, []byte, error) {
	c, err := l.get(ctx)
	if err != nil {
		return 0, nil, err
	}
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Now().Add(30 * time.Second)
	}
	_ = c.c.SetDeadline(dl)
	w := c.wb[:0]
	w = append(w, "POST "...)
	w = append(w, path...)
	w = append(w, " HTTP/1.1\r\nHost: "...)
	w = append(w, l.Addr...)
	w = append(w, "\r\nContent-Type: application/json\r\nAuthorization: Bearer "...)
	w = append(w, bearer...)
	w = append(w, "\r\nContent-Length: "...)
	w = strconv.AppendInt(w, int64(len(body)), 10)
	w = append(w, "\r\n\r\n"...)
	w = append(w, body...)
	c.wb = w
	if _, err := c.c.Write(w); err != nil {
		c.c.Close()
		return 0, nil, err
	}
	status, out, keep, err := c.read()
	if err != nil {
		c.c.Close()
		return 0, nil, err
	}
	if keep {
		l.put(c)
	} else {
		c.c.Close()
	}
	return status, out, nil
}

// Close closes the kept connections.
func (l *LeanClient) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.idle {
		c.c.Close()
	}
	l.idle = nil
}

func (l *LeanClient) get(ctx context.Context) (*leanConn, error) {
	l.mu.Lock()
	if n := len(l.idle); n > 0 {
		c := l.idle[n-1]
		l.idle = l.idle[:n-1]
		l.mu.Unlock()
		return c, nil
	}
	l.mu.Unlock()
	d := net.Dialer{Timeout: 5 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", l.Addr)
	if err != nil {
		return nil, err
	}
	return &leanConn{c: nc, br: bufio.NewReaderSize(nc, 16<<10), wb: make([]byte, 0, 1024)}, nil
}

func (l *LeanClient) put(c *leanConn) {
	l.mu.Lock()
	l.idle = append(l.idle, c)
	l.mu.Unlock()
}

// read reads one answer: the status line, the headers (Content-Length is
// required: idplug's JSON answers are small and carry it), then the body.
func (c *leanConn) read() (status int, body []byte, keep bool, err error) {
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		return 0, nil, false, err
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, nil, false, fmt.Errorf("lean client: bad status line %q", line)
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, nil, false, fmt.Errorf("lean client: bad status line %q", line)
	}
	length, keep := -1, true
	for {
		h, err := c.br.ReadSlice('\n')
		if err != nil {
			return 0, nil, false, err
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		name, value, ok := bytes.Cut(h, []byte(":"))
		if !ok {
			return 0, nil, false, fmt.Errorf("lean client: bad header line %q", h)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil || length < 0 || length > maxLeanBody {
				return 0, nil, false, fmt.Errorf("lean client: bad Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return 0, nil, false, errors.New("lean client: chunked answer (Content-Length expected)")
		case bytes.EqualFold(name, []byte("Connection")) && bytes.EqualFold(value, []byte("close")):
			keep = false
		}
	}
	if length < 0 {
		return 0, nil, false, errors.New("lean client: answer without Content-Length")
	}
	body = make([]byte, length)
	if _, err := io.ReadFull(c.br, body); err != nil {
		return 0, nil, false, err
	}
	return status, body, keep, nil
}
