package process

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// go-plugin reads a plugin's stderr line by line and, for a line that is a JSON
// object, takes @message, @level and @timestamp as strings without checking
// (a type assertion): {"@message":1} panics in its goroutine and takes the
// whole host down, at every start of the plugin, before the log guard sees a
// thing. Every line goes through saneStderr first, which turns such values
// into strings. The Logto bridge's Node writes to the same stderr.

// stderrLine is the longest line checked; go-plugin does not parse longer ones
// either (its buffer is 64 KiB by default), so they pass as they are.
const stderrLine = 64 << 10

// hclogKeys are the fields go-plugin asserts to be strings.
var hclogKeys = []string{"@message", "@level", "@timestamp"}

type saneStderr struct {
	src  io.ReadCloser
	r    *bufio.Reader
	pend []byte // checked bytes not yet read
}

func newSaneStderr(src io.ReadCloser) *saneStderr {
	return &saneStderr{src: src, r: bufio.NewReaderSize(src, stderrLine)}
}

func (s *saneStderr) Read(p []byte) (int, error) {
	for len(s.pend) == 0 {
		line, err := s.r.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			s.pend = append(s.pend[:0], line...) // too long to be parsed: as it is
		case len(line) > 0:
			s.pend = append(s.pend[:0], saneLine(line)...)
		case err != nil:
			return 0, err
		}
	}
	n := copy(p, s.pend)
	s.pend = s.pend[n:]
	return n, nil
}

func (s *saneStderr) Close() error { return s.src.Close() }

// saneLine returns line, or for a JSON object whose hclog fields are not all
// strings, the object with those fields as strings.
func saneLine(line []byte) []byte {
	body := bytes.TrimSpace(line)
	if len(body) == 0 || body[0] != '{' {
		return line
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) != nil {
		return line // not JSON: go-plugin logs it as text
	}
	changed := false
	for _, k := range hclogKeys {
		v, ok := fields[k]
		if !ok || (len(v) > 0 && v[0] == '"') {
			continue
		}
		s, _ := json.Marshal(string(v))
		fields[k] = s
		changed = true
	}
	if !changed {
		return line
	}
	out, err := json.Marshal(fields)
	if err != nil {
		return line
	}
	return append(out, '\n')
}
