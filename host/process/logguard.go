package process

import (
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/idplug/idplug/internal/printable"
)

// A plugin's log lines pass at most logRate a second on average, in bursts of up
// to logBurst, counted separately for warnings and errors and for the rest, so a
// flood of debug lines never crowds out an error. Lines over the limit are counted
// and dropped without being written, so reading the plugin's stderr keeps up and
// the plugin never blocks on it; one line then says how many of each level went.
const (
	logRate    = 200
	logBurst   = 1000
	dropReport = time.Second
)

// logGuard is the logger handed to go-plugin. go-plugin writes the lines it reads
// from the plugin's stderr through Named(<file name>), and its own lines directly.
type logGuard struct {
	hclog.Logger
}

func newLogGuard(l hclog.Logger) hclog.Logger { return logGuard{l} }

func (g logGuard) Named(name string) hclog.Logger {
	return &limitedLogger{Logger: g.Logger.Named(name), state: &floodState{}}
}

// floodState is the budget of one plugin process's stderr.
type floodState struct {
	mu      sync.Mutex
	buckets [2]bucket // 0: trace, debug, info; 1: warn, error
	dropped map[hclog.Level]int
	timer   *time.Timer
}

type bucket struct {
	tokens float64
	last   time.Time
}

func (b *bucket) take(now time.Time) bool {
	if b.last.IsZero() {
		b.tokens = logBurst
	} else {
		b.tokens = min(logBurst, b.tokens+now.Sub(b.last).Seconds()*logRate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// limitedLogger applies a floodState to the lines of one plugin process.
type limitedLogger struct {
	hclog.Logger
	state *floodState
}

func (l *limitedLogger) admit(level hclog.Level) bool {
	if level < l.Logger.GetLevel() {
		return false // not written anyway: costs no budget
	}
	s := l.state
	s.mu.Lock()
	defer s.mu.Unlock()
	class := 0
	if level >= hclog.Warn {
		class = 1
	}
	if s.buckets[class].take(time.Now()) {
		return true
	}
	if s.dropped == nil {
		s.dropped = map[hclog.Level]int{}
	}
	s.dropped[level]++
	if s.timer == nil {
		s.timer = time.AfterFunc(dropReport, l.reportDropped)
	}
	return false
}

// reportDropped writes one line counting the lines dropped since the last report,
// at the level of the most severe of them.
func (l *limitedLogger) reportDropped() {
	s := l.state
	s.mu.Lock()
	dropped := s.dropped
	s.dropped, s.timer = nil, nil
	s.mu.Unlock()
	worst, args := hclog.Trace, []any{}
	for _, lvl := range []hclog.Level{hclog.Error, hclog.Warn, hclog.Info, hclog.Debug, hclog.Trace} {
		if n := dropped[lvl]; n > 0 {
			worst = max(worst, lvl)
			args = append(args, lvl.String(), n)
		}
	}
	if len(args) == 0 {
		return
	}
	l.Logger.Log(worst, "plugin log lines dropped: the plugin logs faster than the host writes its lines", args...)
}

func (l *limitedLogger) Log(level hclog.Level, msg string, args ...any) {
	if l.admit(level) {
		l.Logger.Log(level, logText(msg), ownFields(args)...)
	}
}

// maxLogText bounds a plugin line's message and each of its text values.
const maxLogText = 4 << 10

// ownFields keeps a plugin's fields from passing for the host's: hclog's own
// (@module, @level, @message, @timestamp, @caller), which a JSON line would
// carry twice and a reader take the last of, become plugin_module and so on,
// so a plugin's line cannot claim to come from idplug.http or another plugin.
// Keys are escaped as messages are (hclog writes them as they are); long text
// values are cut (hclog quotes a value, or indents one of several lines).
func ownFields(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case string:
			if i%2 == 0 {
				if strings.HasPrefix(v, "@") {
					v = "plugin_" + strings.TrimPrefix(v, "@")
				}
				out[i] = logText(v)
				continue
			}
			out[i] = cutText(v)
		case float64, bool, nil:
			out[i] = a
		default:
			// A JSON list or object ([]any, map[string]any from go-plugin):
			// hclog's text format writes a list's elements as they are, so it
			// goes as its JSON text, which hclog quotes as any other value.
			data, err := json.Marshal(v)
			if err != nil {
				data = []byte("(unreadable)")
			}
			out[i] = cutText(string(data))
		}
	}
	return out
}

// logText is a plugin's message (or a field's key) as the host writes it: hclog's
// text format writes both as they are, so a line break in them would start a
// line that reads as the host's own, and an escape sequence would reach the
// operator's terminal. Control characters are escaped (printable.Line), as
// hclog escapes a quoted value; the text is cut before (to bound the work) and
// after (escapes are longer than what they stand for).
func logText(s string) string {
	return cutText(printable.Line(cutText(s)))
}

func cutText(s string) string {
	if len(s) <= maxLogText {
		return s
	}
	return printable.Cut(s, maxLogText) + "..."
}
func (l *limitedLogger) Trace(msg string, args ...any) { l.Log(hclog.Trace, msg, args...) }
func (l *limitedLogger) Debug(msg string, args ...any) { l.Log(hclog.Debug, msg, args...) }
func (l *limitedLogger) Info(msg string, args ...any)  { l.Log(hclog.Info, msg, args...) }
func (l *limitedLogger) Warn(msg string, args ...any)  { l.Log(hclog.Warn, msg, args...) }
func (l *limitedLogger) Error(msg string, args ...any) { l.Log(hclog.Error, msg, args...) }
