package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPlainHTTPRequestsAreBounded: a connector's requests through node:http (got
// sends an http: URL there, and so may any npm connector) had none of the bounds
// its fetch and node:https requests have: where egress is open they reached the
// provider with no deadline, no cap on the answer and redirects handed on. Run with
// the bundle's Node and the bridge's provider-http.mjs, as the bridge loads it, and
// no egress proxy (egress open): a provider that never answers ends at the call's
// deadline, an endless answer at the cap, a redirect is refused, and a plain answer
// still arrives, recorded for its call and asked for without a content coding.
func TestPlainHTTPRequestsAreBounded(t *testing.T) {
	needBuild(t)
	hungUp := make(chan struct{}, 4)
	done := make(chan struct{})
	defer close(done) // before the server's Close, which waits for its handlers
	mux := http.NewServeMux()
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) {
		// The body read, the server sees the connection close.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
			hungUp <- struct{}{}
		case <-done:
		}
	})
	mux.HandleFunc("/endless", func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 64<<10)
		for range 6 << 20 / len(chunk) { // past the bridge's 4 MiB, with no Content-Length
			if _, err := w.Write(chunk); err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ok", http.StatusFound)
	})
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"acceptEncoding":"` + r.Header.Get("Accept-Encoding") + `"}`))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer srv.CloseClientConnections()

	// Beside the test, not in the bundle (see TestNodeKeepsServingPastAnException).
	script := filepath.Join(t.TempDir(), "plain-http-check.mjs")
	providerHTTP := (&url.URL{Scheme: "file", Path: filepath.Join(built.bundle, "provider-http.mjs")}).String()
	if err := os.WriteFile(script, []byte(`import http from 'node:http';
import { calls } from '`+providerHTTP+`';
const base = process.argv[2];
// One request in a call's store, as the bridge serves a call; a call with a second
// to answer gives its requests less than that.
function run(path, viaGet) {
  return new Promise((resolve) => {
    const store = { responses: [], spans: null, deadline: Date.now() + 1500 };
    const out = { path, status: 0, body: '', errors: [] };
    calls.run(store, () => {
      const onAnswer = (res) => {
        out.status = res.statusCode;
        res.setEncoding('utf8');
        res.on('data', (d) => { if (out.body.length < 256) out.body += d.slice(0, 256); });
        res.on('error', (e) => out.errors.push(e.name + ': ' + e.message));
      };
      const req = viaGet ? http.get(base + path, onAnswer) : http.request(base + path, { method: 'POST' }, onAnswer);
      req.on('error', (e) => out.errors.push(e.name + ': ' + e.message));
      req.on('close', () => resolve({ ...out, recorded: store.responses }));
      if (!viaGet) req.end('grant_type=authorization_code');
    });
  });
}
// Without the bridge's deadline a hung request would hold this script forever.
setTimeout(() => { process.stdout.write('{"path":"stuck"}\n'); process.exit(0); }, 20000).unref();
for (const [path, viaGet] of [['/hang', false], ['/endless', true], ['/redirect', true], ['/ok', false]]) {
  const started = Date.now();
  const r = await run(path, viaGet);
  process.stdout.write(JSON.stringify({ ...r, ms: Date.now() - started }) + '\n');
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(built.bundle, nodeName), script, srv.URL)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("Node: %v, stderr:\n%s", err, stderr.String())
	}
	type result struct {
		Path     string
		Status   int
		Body     string
		Errors   []string
		Recorded []struct {
			Status   int
			TimedOut bool
		}
		MS int
	}
	got := map[string]result{}
	for line := range strings.Lines(string(out)) {
		var r result
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("Node printed %q: %v", line, err)
		}
		got[r.Path] = r
	}
	if _, stuck := got["stuck"]; stuck {
		t.Fatalf("a plain http request to a provider that never answers was still open after 20 s: no deadline\n%s", out)
	}
	errs := func(path string) string { return strings.Join(got[path].Errors, "; ") }

	if r := got["/hang"]; !strings.Contains(errs("/hang"), "TimeoutError") || len(r.Recorded) == 0 || !r.Recorded[0].TimedOut || r.MS > 2500 {
		t.Errorf("a provider that never answers: want a TimeoutError at the call's deadline (1.5 s; a second allowed for a loaded machine), recorded as timed out; got %+v", r)
	}
	select {
	case <-hungUp:
	case <-time.After(5 * time.Second):
		t.Errorf("the hung request's connection was still open at the provider")
	}
	if !strings.Contains(errs("/endless"), "larger than 4194304 bytes") {
		t.Errorf("an endless answer: want it cut at the bridge's cap; got %+v", got["/endless"])
	}
	if r := got["/redirect"]; !strings.Contains(errs("/redirect"), "redirect (HTTP 302)") || r.Body != "" {
		t.Errorf("a redirect: want it refused, its answer never handed on; got %+v", r)
	}
	if r := got["/ok"]; r.Status != 200 || len(r.Errors) != 0 || r.Body != `{"acceptEncoding":"identity"}` ||
		len(r.Recorded) != 1 || r.Recorded[0].Status != 200 {
		t.Errorf("a plain answer: want 200, asked for without a content coding and recorded for its call; got %+v", r)
	}
}
