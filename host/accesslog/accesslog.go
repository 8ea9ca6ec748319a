// Package accesslog writes idplug serve's request lines: one per HTTP request, at
// INFO, named after the server's logger.
//
// With log_format json the line is written here, byte for byte as hclog writes it
// (its keys sorted, its timestamp, HTML-safe escaping), without the map, the
// reflection and the encoder hclog builds for every line: under load those were a
// twentieth of idplug's CPU per sign-in. Text lines go through hclog, whose text
// path is already an appender.
package accesslog

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/idplug/idplug/internal/printable"
)

// Entry is one request.
type Entry struct {
	Method   string
	Path     string // as logged: user ids already hashed
	Route    string
	Status   int
	Duration time.Duration // logged rounded to the microsecond
	Remote   string
	TraceID  string // left out when empty
}

// Logger is an hclog.Logger (for whatever else is logged through it) that writes
// request lines itself in JSON.
type Logger struct {
	hclog.Logger
	out  io.Writer // the writer the hclog.Logger writes to
	json bool
	now  func() time.Time
	bufs sync.Pool
}

// New returns a Logger over l, which writes to out, in JSON when json is set;
// without json, every line goes through l (and out may be nil).
func New(l hclog.Logger, out io.Writer, json bool) *Logger {
	return &Logger{Logger: l, out: out, json: json, now: time.Now}
}

// LogRequest writes e's line, if l logs at INFO.
func (l *Logger) LogRequest(e Entry) {
	if !l.IsInfo() {
		return
	}
	d := e.Duration.Round(time.Microsecond)
	if !l.json {
		// hclog writes a value with a line break as lines of their own: a
		// path's %0A would split the request's line in the text format.
		fields := []any{"method", e.Method, "path", printable.Line(e.Path), "route", e.Route, "status", e.Status, "duration", d, "remote", e.Remote}
		if e.TraceID != "" {
			fields = append(fields, "trace_id", e.TraceID)
		}
		l.Info("request", fields...)
		return
	}
	bp, _ := l.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	b := (*bp)[:0]
	// hclog's keys, sorted as encoding/json sorts a map's.
	b = append(b, `{"@level":"info","@message":"request"`...)
	if name := l.Name(); name != "" {
		b = append(b, `,"@module":`...)
		b = appendString(b, name)
	}
	b = append(b, `,"@timestamp":"`...)
	b = l.now().AppendFormat(b, hclog.TimeFormatJSON)
	b = append(b, `","duration":`...)
	b = strconv.AppendInt(b, int64(d), 10)
	b = append(b, `,"method":`...)
	b = appendString(b, e.Method)
	b = append(b, `,"path":`...)
	b = appendString(b, e.Path)
	b = append(b, `,"remote":`...)
	b = appendString(b, e.Remote)
	b = append(b, `,"route":`...)
	b = appendString(b, e.Route)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(e.Status), 10)
	if e.TraceID != "" {
		b = append(b, `,"trace_id":`...)
		b = appendString(b, e.TraceID)
	}
	b = append(b, "}\n"...)
	_, _ = l.out.Write(b)
	*bp = b
	l.bufs.Put(bp)
}

// appendString appends s as encoding/json writes it with HTML escaping on (as
// hclog has it): plain printable ASCII as it is, anything else through
// encoding/json itself.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// Path is r's path with a user id (the vault routes' {userId}) replaced
// by "~" and the first 12 hex digits of its SHA-256: lines of one user still
// correlate, and the log (and a trace) names nobody. It reads the path itself, not the
// router's values, which a request refused before routing (no key, a wrong
// one, too many, a path not in its canonical form) never gets; its segments are
// compared unescaped, as the router matches them (`/%75sers/` is the users
// route too). Past a "users" segment under "connectors", wherever they stand
// and whatever empty or dot segments surround them, every segment but those
// and "tokens" is hashed: `/connectors/x//users//alice` names nobody either.
func Path(r *http.Request) string {
	escaped := r.URL.EscapedPath()
	if !strings.Contains(escaped, "users") && !strings.Contains(escaped, "%") {
		return r.URL.Path // no users segment however spelled: every sign-in's path
	}
	segs := strings.Split(escaped, "/")
	plain := make([]string, len(segs))
	for i, seg := range segs {
		plain[i] = seg
		if u, err := url.PathUnescape(seg); err == nil {
			plain[i] = u
		}
	}
	users := -1
	for i, connectors := 0, -1; i < len(plain) && users < 0; i++ {
		switch {
		case connectors < 0 && plain[i] == "connectors":
			connectors = i
		case connectors >= 0 && i > connectors+1 && plain[i] == "users": // past the connector's id, which may be "users"
			users = i
		}
	}
	if users < 0 {
		return r.URL.Path
	}
	for i := users + 1; i < len(plain); i++ {
		switch plain[i] {
		case "", ".", "..", "tokens":
			continue
		}
		sum := sha256.Sum256([]byte(plain[i]))
		plain[i] = "~" + hex.EncodeToString(sum[:6])
	}
	return strings.Join(plain, "/")
}
