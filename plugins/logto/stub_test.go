package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
)

// stub answers at the real paths of the providers whose Logto connectors the tests
// run; the test build of the plugin sends the connectors' fixed https:// hosts here.
// Each provider's handlers are added by its test.
type stub struct {
	srv *httptest.Server

	mu       sync.Mutex
	routes   map[string]http.HandlerFunc
	fail     map[string]failure // path → a canned answer instead of the route's
	requests []stubRequest
}

type failure struct {
	status int
	body   string
}

type stubRequest struct {
	Method string
	Path   string
	Query  url.Values
	Form   url.Values
	Header http.Header
}

func newStub(t testing.TB) *stub {
	s := &stub{routes: map[string]http.HandlerFunc{}, fail: map[string]failure{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *stub) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	form, _ := url.ParseQuery(string(body))
	s.mu.Lock()
	s.requests = append(s.requests, stubRequest{r.Method, r.URL.Path, r.URL.Query(), form, r.Header.Clone()})
	f, failing := s.fail[r.URL.Path]
	h := s.routes[r.URL.Path]
	s.mu.Unlock()
	switch {
	case failing:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.status)
		_, _ = io.WriteString(w, f.body)
	case h != nil:
		r.Form = form
		h(w, r)
	default:
		http.NotFound(w, r)
	}
}

// hosts maps each of names (https hosts) to the stub.
func (s *stub) hosts(names ...string) map[string]string {
	m := map[string]string{}
	for _, n := range names {
		m[n] = s.srv.URL
	}
	return m
}

func (s *stub) handle(path string, h http.HandlerFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.routes[path] = h
}

// failAt makes path answer status and body until clear.
func (s *stub) failAt(path string, status int, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail[path] = failure{status, body}
}

func (s *stub) clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = map[string]failure{}
}

// last returns the latest request to path.
func (s *stub) last(path string) (stubRequest, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.requests) - 1; i >= 0; i-- {
		if s.requests[i].Path == path {
			return s.requests[i], true
		}
	}
	return stubRequest{}, false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
