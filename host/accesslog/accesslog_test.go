package accesslog

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

var entries = []Entry{
	{Method: "POST", Path: "/v1/connectors/github/user-info", Route: "POST /v1/connectors/{id}/user-info", Status: 200, Duration: 1234567 * time.Nanosecond, Remote: "127.0.0.1:45678"},
	{Method: "GET", Path: "/metrics", Route: "unmatched", Status: 404, Duration: 0, Remote: "[::1]:1", TraceID: "4bf92f3577b34da6a3ce929d0e0e4736"},
	{Method: "GET", Path: `/a"b\c<d>&e`, Route: "GET /{x}", Status: 400, Duration: time.Hour, Remote: "10.0.0.1:2"},
	{Method: "GET", Path: "/caf\u00e9/\u2028/\x01/\x7f", Route: "", Status: 503, Duration: -time.Millisecond, Remote: ""},
	{Method: "GET", Path: "/bad-\xff-utf8", Route: "GET /", Status: 200, Remote: "x", TraceID: "<script>"},
}

// The JSON lines are hclog's own, byte for byte: same keys, order, escaping,
// numbers and timestamp.
func TestJSONLinesAreHclogs(t *testing.T) {
	at := time.Date(2026, 12, 5, 16, 7, 55, 123456789, time.FixedZone("x", 3600))
	for _, name := range []string{"idplug", ""} {
		var want, got bytes.Buffer
		ref := hclog.New(&hclog.LoggerOptions{Name: name, Output: &want, JSONFormat: true, TimeFn: func() time.Time { return at }})
		l := New(hclog.New(&hclog.LoggerOptions{Name: name, Output: &got, JSONFormat: true}), &got, true)
		l.now = func() time.Time { return at }
		if name != "" {
			ref = ref.Named("http")
			l = New(l.Logger.Named("http"), &got, true)
			l.now = func() time.Time { return at }
		}
		for _, e := range entries {
			want.Reset()
			got.Reset()
			fields := []any{"method", e.Method, "path", e.Path, "route", e.Route, "status", e.Status, "duration", e.Duration.Round(time.Microsecond), "remote", e.Remote}
			if e.TraceID != "" {
				fields = append(fields, "trace_id", e.TraceID)
			}
			ref.Info("request", fields...)
			l.LogRequest(e)
			if got.String() != want.String() {
				t.Errorf("name %q, %+v:\n got %s\nwant %s", name, e, got.String(), want.String())
			}
		}
	}
}

// Text lines and levels are hclog's: a logger above INFO writes nothing.
func TestTextLinesAndLevels(t *testing.T) {
	var out bytes.Buffer
	l := New(hclog.New(&hclog.LoggerOptions{Name: "idplug", Output: &out}), &out, false)
	l.LogRequest(entries[1])
	line := out.String()
	for _, want := range []string{"[INFO]  idplug: request:", "method=GET", "status=404", "route=unmatched", "trace_id=4bf92f3577b34da6a3ce929d0e0e4736"} {
		if !strings.Contains(line, want) {
			t.Errorf("text line %q lacks %q", line, want)
		}
	}
	for _, json := range []bool{true, false} {
		out.Reset()
		quiet := New(hclog.New(&hclog.LoggerOptions{Output: &out, Level: hclog.Warn, JSONFormat: json}), &out, json)
		quiet.LogRequest(entries[0])
		if out.Len() != 0 {
			t.Errorf("json=%v at WARN wrote %q", json, out.String())
		}
	}
}

// A request's path is decoded, so %0A in it is a line break, which hclog's text
// format writes as lines of their own: one request made several lines, and a
// forged one among them.
func TestTextLineIsOneLine(t *testing.T) {
	var out bytes.Buffer
	l := New(hclog.New(&hclog.LoggerOptions{Name: "idplug", Output: &out}), &out, false)
	e := entries[1]
	e.Path = "/x\n2030-01-01T00:00:00.000Z [ERROR] idplug: forged\r\x1b[2J"
	l.LogRequest(e)
	line := out.String()
	if strings.Count(line, "\n") != 1 || strings.ContainsAny(strings.TrimSuffix(line, "\n"), "\r\x1b") {
		t.Errorf("one request wrote %q", line)
	}
	if !strings.Contains(line, `path="/x\n2030-01-01`) {
		t.Errorf("the path does not read as it was sent: %q", line)
	}
}

func BenchmarkLine(b *testing.B) {
	for _, mode := range []string{"hclog", "accesslog"} {
		b.Run(mode, func(b *testing.B) {
			var out bytes.Buffer
			l := New(hclog.New(&hclog.LoggerOptions{Name: "idplug", Output: &out, JSONFormat: true}).Named("http"), &out, true)
			e := entries[0]
			b.ReportAllocs()
			for b.Loop() {
				out.Reset()
				if mode == "hclog" {
					l.Info("request", "method", e.Method, "path", e.Path, "route", e.Route, "status", e.Status,
						"duration", e.Duration.Round(time.Microsecond), "remote", e.Remote)
				} else {
					l.LogRequest(e)
				}
			}
			_ = fmt.Sprint(out.Len())
		})
	}
}

// A vault path's user id is hashed however the path spells the route's own
// segments: the router matches them unescaped, so `%75sers` is the users route
// and its id must not reach the log as it is.
func TestPathHidesTheUserHoweverTheRouteIsSpelled(t *testing.T) {
	const user = "alice.smith@example.com"
	sum := sha256.Sum256([]byte(user))
	hashed := "~" + hex.EncodeToString(sum[:6])
	for _, p := range []string{
		"/v1/connectors/github/users/" + user + "/tokens",
		"/v1/connectors/github/%75sers/" + user + "/tokens",
		"/v1/%63onnectors/github/users/" + url.PathEscape(user),
		"/v1/connectors/github/users/alice.smith%40example.com",
		// Refused before routing, as not canonical, and logged all the same.
		"/v1/connectors/github//users/" + user + "/tokens",
		"/v1/connectors/github/./users/" + user + "/tokens",
		"/v1/connectors//github/users/" + user + "/tokens",
		"/v1/connectors/github/users//" + user + "/tokens",
		"/v1/connectors/github/users/./" + user,
	} {
		r := httptest.NewRequest(http.MethodGet, "http://idplug.test"+p, nil)
		got := Path(r)
		if strings.Contains(got, "alice") || !strings.Contains(got, hashed) {
			t.Errorf("Path(%s) = %s; want the user as %s", p, got, hashed)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/connectors/{id}/users/{userId}/tokens", func(http.ResponseWriter, *http.Request) {})
	if _, pattern := mux.Handler(httptest.NewRequest(http.MethodGet, "/v1/connectors/github/%75sers/x/tokens", nil)); pattern == "" {
		t.Fatal("the router no longer takes an escaped route segment: the test's premise is gone")
	}
}
