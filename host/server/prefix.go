package server

import (
	"net/http"
	"net/url"
	"strings"
)

// A public_url with a path (https://example.com/idp) puts every route of the main
// listener under that path: reverse proxies forward the full path by default, so
// idplug answers where the browser was sent, and its links, redirects and
// callback URLs all carry the path (its cookies too over plain http; over https
// they are __Host- cookies, see cookies.go). Routes are matched without it, so
// route names (and metrics labels) are the same with or without a path.

// underPrefix strips the public path from requests, and answers 404 to anything
// outside it.
func (s *Server) underPrefix(next http.Handler) http.Handler {
	if s.prefix == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, s.prefix)
		switch {
		case !ok || (rest != "" && rest[0] != '/'):
			writeError(w, r, errNotFound("idplug serves under "+s.prefix+"/ (the path of public_url)"))
			return
		case rest == "":
			http.Redirect(w, r, s.prefix+"/", http.StatusMovedPermanently)
			return
		}
		u := *r.URL
		u.Path, u.RawPath = rest, ""
		// The escaped form goes too: without it, %2F in a path value (a user
		// id) would read as a separator, and the router's cleaning could
		// redirect a request for alice%2F..%2Fbob to bob's.
		if raw, ok := strings.CutPrefix(r.URL.RawPath, escapedPrefix(s.prefix)); ok && r.URL.RawPath != "" {
			u.RawPath = raw
		}
		r.URL = &u
		next.ServeHTTP(&prefixedRedirects{ResponseWriter: w, prefix: s.prefix}, r)
	})
}

// escapedPrefix is the public path as an escaped request path starts with it.
func escapedPrefix(prefix string) string { return (&url.URL{Path: prefix}).EscapedPath() }

// prefixedRedirects puts the public path in front of the redirects the router
// makes by itself (a cleaned path, a missing trailing slash: 301, 307, 308), which
// know only the stripped path. The handlers' own redirects (302, 303) carry it
// already.
type prefixedRedirects struct {
	http.ResponseWriter
	prefix string
}

func (p *prefixedRedirects) WriteHeader(code int) {
	switch code {
	case http.StatusMovedPermanently, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		h := p.Header()
		if loc := h.Get("Location"); strings.HasPrefix(loc, "/") && !strings.HasPrefix(loc, "//") {
			h.Set("Location", p.prefix+loc)
		}
	}
	p.ResponseWriter.WriteHeader(code)
}

// link is the path a browser uses to reach route p ("/sign-in/acme").
func (s *Server) link(p string) string { return s.prefix + p }

// Unwrap lets http.ResponseController reach the connection's writer.
func (p *prefixedRedirects) Unwrap() http.ResponseWriter { return p.ResponseWriter }
