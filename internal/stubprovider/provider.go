package stubprovider

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
)

// maxBody bounds the part of a request body that is read, recorded and parsed.
const maxBody = 1 << 20

// Provider is a running stub. Its routes and overrides may change while it serves.
type Provider struct {
	srv *httptest.Server

	mu        sync.Mutex
	routes    map[string]map[string]http.Handler // path → method ("" for any) → handler
	overrides map[string]http.Handler            // path → what answers instead of its routes
	requests  []Request
}

// New starts a provider with no routes on 127.0.0.1; t's cleanup stops it.
func New(t testing.TB) *Provider {
	t.Helper()
	p := &Provider{routes: map[string]map[string]http.Handler{}, overrides: map[string]http.Handler{}}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.srv.Close)
	return p
}

// URL is the provider's base URL, such as http://127.0.0.1:41234.
func (p *Provider) URL() string { return p.srv.URL }

// Handle makes h answer pattern: "METHOD /path" or "/path" (any method), an exact
// path. It replaces what answered pattern before. A request whose path has routes
// for other methods only is answered 405.
func (p *Provider) Handle(pattern string, h http.Handler) {
	method, path, found := strings.Cut(pattern, " ")
	if !found {
		method, path = "", pattern
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.routes[path] == nil {
		p.routes[path] = map[string]http.Handler{}
	}
	p.routes[path][method] = h
}

// HandleFunc is Handle for a function.
func (p *Provider) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	p.Handle(pattern, http.HandlerFunc(h))
}

// Override makes h answer every request to path, whatever its method and routes,
// until ClearOverrides: an outage or a refusal laid over working routes.
func (p *Provider) Override(path string, h http.Handler) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.overrides[path] = h
}

// ClearOverrides gives every path back to its routes.
func (p *Provider) ClearOverrides() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.overrides)
}

// serve records r, then hands it to what answers its path. The handler sees the
// form-encoded body parsed (r.Form, r.PostForm) and can still read r.Body.
func (p *Provider) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, maxBody))
	r.Body = io.NopCloser(bytes.NewReader(body))
	_ = r.ParseForm()
	r.Body = io.NopCloser(bytes.NewReader(body))

	p.mu.Lock()
	p.requests = append(p.requests, Request{
		Method: r.Method,
		Path:   r.URL.Path,
		Query:  r.URL.Query(),
		Form:   cloneValues(r.PostForm),
		Header: r.Header.Clone(),
		Body:   body,
	})
	h, allowed := p.handlerLocked(r.Method, r.URL.Path)
	p.mu.Unlock()

	switch {
	case h != nil:
		h.ServeHTTP(w, r)
	case len(allowed) > 0:
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	default:
		http.NotFound(w, r)
	}
}

// handlerLocked is what answers method on path: its override, the route for
// method, the route for any method. With none, allowed lists the methods that path
// answers, if any.
func (p *Provider) handlerLocked(method, path string) (h http.Handler, allowed []string) {
	if h := p.overrides[path]; h != nil {
		return h, nil
	}
	byMethod := p.routes[path]
	if h := byMethod[method]; h != nil {
		return h, nil
	}
	if h := byMethod[""]; h != nil {
		return h, nil
	}
	for m := range byMethod {
		allowed = append(allowed, m)
	}
	slices.Sort(allowed)
	return nil, allowed
}
