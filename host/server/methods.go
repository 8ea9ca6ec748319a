package server

import (
	"net/http"
	"strings"

	"github.com/idplug/idplug/sdk"
)

// apiFallback is the pattern that catches every /v1 request no route takes.
const apiFallback = "/v1/"

// probedMethods are the methods tried to tell a wrong method from a wrong path.
var probedMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// noSuchAPIRoute answers a /v1 request no route took: 405 with Allow when the
// path exists with other methods, 404 otherwise. It runs after the API key check.
func (s *Server) noSuchAPIRoute(w http.ResponseWriter, r *http.Request) {
	if allow := s.allowedMethods(r); len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, r, &sdk.Error{Code: CodeMethodNotAllowed,
			Message: r.Method + " is not allowed on " + r.URL.Path + "; allowed: " + strings.Join(allow, ", ")})
		return
	}
	writeError(w, r, errNotFound("no such API route: "+r.Method+" "+r.URL.Path))
}

// allowedMethods asks the API's routes which methods they take for r's path.
func (s *Server) allowedMethods(r *http.Request) []string {
	var allow []string
	for _, m := range probedMethods {
		probe := &http.Request{Method: m, URL: r.URL, Host: r.Host, Header: http.Header{}}
		if _, pattern := s.api.Handler(probe); pattern != apiFallback && pattern != "" {
			allow = append(allow, m)
		}
	}
	return allow
}
