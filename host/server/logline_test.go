package server

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/idplug/idplug/host/seal"
)

// lockedBuffer is a log output the server may write from its handlers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestFailedBrowserStepLogLineCannotBeForged: an unauthenticated client's
// path reaches the WARN line of a failed browser step (errorPage,
// signInFailed) had gone as it was. In the text log format (the default),
// hclog writes a value holding a line break as lines of their own: a %0A in
// the path started a line of the client's words in idplug's log, one WARN per
// request. It is now written as the access log writes it (printable.Line).
func TestFailedBrowserStepLogLineCannotBeForged(t *testing.T) {
	out := &lockedBuffer{}
	log := hclog.New(&hclog.LoggerOptions{Name: "idplug", Output: out, Level: hclog.Info})
	sealer, err := seal.New([][]byte{[]byte("session-key-0123456789-0123456789-abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := url.Parse("https://idp.example.test")
	srv := New(&fakeInstances{}, sealer, nil, log.Named("http"), Settings{PublicURL: pub, AccessLog: hclog.NewNullLogger()})
	forged := "2030-01-01T00:00:00.000Z [ERROR] idplug.http: forged by the client"
	for _, target := range []string{
		"/sign-in/x%0A%0D" + url.PathEscape(forged) + "%1B%5B2J",
		"/callback/x%0A%0D" + url.PathEscape(forged) + "%1B%5B2J",
	} {
		rec := browserRequest(srv, http.MethodGet, target, "", nil)
		if rec.Code != http.StatusNotFound {
			t.Fatalf("%s: status %d, want 404", target, rec.Code)
		}
	}
	text := out.String()
	if !strings.Contains(text, "browser sign-in failed") {
		t.Fatalf("no WARN line of the failed step:\n%q", text)
	}
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, "\r") || strings.Contains(line, "\x1b") {
			t.Errorf("a client's path wrote raw control characters into the log (CR or ESC): %q", line)
		}
		if strings.Contains(line, forged) && !strings.Contains(line, "[WARN]") {
			t.Errorf("a client's path started a log line of its own: %q", line)
		}
	}
}
