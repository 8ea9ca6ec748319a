package suite

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The lean client against net/http's server: what it sends is a request net/http
// reads, it keeps the connection, and it refuses answers it cannot frame.
func TestLeanClient(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/echo":
			if r.Method != http.MethodPost || r.Header.Get("Authorization") != "Bearer k" || r.Header.Get("Content-Type") != "application/json" {
				http.Error(w, "bad request line or headers", http.StatusBadRequest)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(body)
		case "/refuse":
			http.Error(w, `{"code":"no"}`, http.StatusForbidden)
		case "/close":
			w.Header().Set("Connection", "close")
			_, _ = w.Write([]byte("{}"))
		case "/chunked":
			_, _ = w.Write([]byte("{"))
			w.(http.Flusher).Flush()
			_, _ = w.Write([]byte("}"))
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	l := &LeanClient{Addr: strings.TrimPrefix(srv.URL, "http://")}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	for i := range 3 {
		status, body, err := l.Post(ctx, "/echo", "k", []byte(`{"n":1}`))
		if err != nil || status != 200 || string(body) != `{"n":1}` {
			t.Fatalf("call %d: %d %q %v", i, status, body, err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("three calls in turn opened %d connections, want 1", n)
	}
	if status, body, err := l.Post(ctx, "/refuse", "k", nil); err != nil || status != 403 || !strings.Contains(string(body), "no") {
		t.Errorf("refusal: %d %q %v", status, body, err)
	}
	if _, _, err := l.Post(ctx, "/close", "k", nil); err != nil {
		t.Errorf("Connection: close: %v", err)
	}
	if _, _, err := l.Post(ctx, "/chunked", "k", nil); err == nil || !strings.Contains(err.Error(), "chunked") {
		t.Errorf("chunked answer: err = %v, want a refusal naming it", err)
	}
	if _, _, err := l.Post(ctx, "/echo", "k", []byte("{}")); err != nil {
		t.Errorf("after a refused answer the next call must work on a new connection: %v", err)
	}
}
