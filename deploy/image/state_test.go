package image_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idplug/idplug/internal/containertest"
	"github.com/idplug/idplug/internal/pgtest"
	"github.com/idplug/idplug/internal/testport"
)

// TestReplicasShareOnePostgres: three containers on one real PostgreSQL. A flow
// started in one finishes in another, and its replay is refused in the third.
func TestReplicasShareOnePostgres(t *testing.T) {
	s := newSetup(t)
	image := s.e.Image(t, "idplug")
	pg := pgtest.Start(t)
	var bases []string
	var containers []*containertest.Container
	for i := range 3 {
		port := s.port
		if i > 0 {
			port = testport.Free(t)
		}
		base := fmt.Sprintf("http://127.0.0.1:%d", port)
		c := s.run(t, image, s.configDir(t, port, "oauth2", pg.URL))
		bases, containers = append(bases, base), append(containers, c)
	}
	for i, c := range containers {
		c.WaitReady(t, bases[i]+"/readyz")
	}
	for i := range 3 {
		from, to, replay := bases[i], bases[(i+1)%3], bases[(i+2)%3]
		flow := s.op.StartFlow(t, from, apiKey, "acme")
		if status, body := flow.Finish(t, to, apiKey); status != 200 {
			t.Fatalf("a flow started on %s, finished on %s: %d %v", from, to, status, body)
		}
		if status, body := flow.Finish(t, replay, apiKey); status != 400 || body["code"] != "session_used" {
			t.Fatalf("the same flow replayed on %s: %d %v, want 400 session_used", replay, status, body)
		}
	}
}

// TestStopDrains: docker stop (SIGTERM) while sign-ins wait on the provider. The
// server stops taking requests, finishes those in flight, exits 0, and every flow
// it acknowledged stays consumed in the SQLite file on the volume: a new
// container refuses each replay.
func TestStopDrains(t *testing.T) {
	s := newSetup(t)
	image := s.e.Image(t, "idplug")
	const inFlight = 4
	// The provider's token endpoint, held until the container has been told to stop.
	arrived := make(chan struct{}, inFlight)
	release := make(chan struct{})
	var releaseOnce sync.Once
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		req, _ := http.NewRequestWithContext(r.Context(), "POST", s.op.TokenEndpoint(), io.LimitReader(r.Body, 64<<10))
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, io.LimitReader(resp.Body, 1<<20))
	}))
	t.Cleanup(proxy.Close)
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })

	data := t.TempDir()
	if err := os.Chown(data, 65532, 65532); err != nil {
		t.Fatal(err)
	}
	dir := s.configDir(t, s.port, "oauth2", "sqlite:/data/idplug.db", func(cfg, connector map[string]any) {
		connector["tokenEndpoint"] = proxy.URL
		cfg["call_timeout"] = "60s"
	})
	dataMount := containertest.Mount{Source: data, Target: "/data"}
	c := s.run(t, image, dir, dataMount)
	c.WaitReady(t, s.base+"/readyz")

	flows := make([]containertest.Flow, inFlight)
	for i := range flows {
		flows[i] = s.op.StartFlow(t, s.base, apiKey, "acme")
	}
	type result struct {
		status int
		body   map[string]any
		err    error
	}
	results := make(chan result, inFlight)
	for _, f := range flows {
		go func() {
			status, body, err := containertest.CallErr("POST", s.base+"/v1/connectors/acme/user-info", apiKey, f.Body)
			results <- result{status, body, err}
		}()
	}
	for range inFlight {
		select {
		case <-arrived:
		case <-time.After(60 * time.Second):
			t.Fatal("the sign-ins never reached the provider's token endpoint")
		}
	}
	stopped := make(chan int, 1)
	go func() { stopped <- c.Stop(t, 60*time.Second) }()
	waitLog(t, c, "shutting down")
	// Told to stop, it soon takes no new request, while those in flight still wait.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, _, err := containertest.CallErr("GET", s.base+"/healthz", "", nil); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("new requests were still served 30s after SIGTERM")
		}
		time.Sleep(20 * time.Millisecond)
	}
	releaseOnce.Do(func() { close(release) })
	for range inFlight {
		r := <-results
		if r.err != nil || r.status != 200 {
			t.Errorf("a sign-in in flight at SIGTERM: %d %v %v", r.status, r.body, r.err)
		}
	}
	if code := <-stopped; code != 0 {
		t.Errorf("idplug exited %d after docker stop, want 0", code)
	}

	// A new container on the same volume: every acknowledged flow is consumed.
	c2 := s.run(t, image, dir, dataMount)
	c2.WaitReady(t, s.base+"/readyz")
	for _, f := range flows {
		if status, body := f.Finish(t, s.base, apiKey); status != 400 || body["code"] != "session_used" {
			t.Errorf("a flow acknowledged before the stop, replayed after: %d %v, want session_used", status, body)
		}
	}
}

// waitLog polls the container's log until it holds text: the log is the only
// sign, from outside, that the container received the signal.
func waitLog(t *testing.T, c *containertest.Container, text string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(c.Logs(), text) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the container's log within 60s:\n%s", text, c.Logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestLogtoImage: Logto's OAuth 2.0 connector from idplug-logto, its Node
// sandboxed inside the container, signs in against the real provider.
func TestLogtoImage(t *testing.T) {
	s := newSetup(t)
	image := s.e.Image(t, "idplug-logto")
	c := s.run(t, image, s.configDir(t, s.port, "logto-oauth2", "sqlite:/data/idplug.db"))
	ready := c.WaitReady(t, s.base+"/readyz")
	checkSandboxed(t, ready)
	if !strings.Contains(ready, `"id":"logto-oauth2"`) {
		t.Fatalf("/readyz lists no logto-oauth2 plugin: %s", ready)
	}
	s.op.SignIn(t, s.base, apiKey, "acme")
}
