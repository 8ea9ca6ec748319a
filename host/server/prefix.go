package server

import (
	"net/http"
	"net/url"
	"path"
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
	segments := strings.Count(s.prefix, "/")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The public path is cut from the escaped path, segment by segment,
		// whatever escaping the client chose ("/id(p)", "/%69dp", lowercase
		// hex): the rest keeps its escapes, so %2F in a path value (a user id)
		// stays in it. Cut from the decoded path, alice%2F..%2Fbob read as
		// alice/../bob, and the router's cleaning redirected it to bob's.
		head, rawRest := cutSegments(r.URL.EscapedPath(), segments)
		plainHead, err := url.PathUnescape(head)
		if err != nil || plainHead != s.prefix {
			writeError(w, r, errNotFound("idplug serves under "+s.prefix+"/ (the path of public_url)"))
			return
		}
		if rawRest == "" {
			http.Redirect(w, r, s.prefix+"/", http.StatusMovedPermanently)
			return
		}
		rest, err := url.PathUnescape(rawRest)
		if err != nil {
			writeError(w, r, errNotFound("idplug serves under "+s.prefix+"/ (the path of public_url)"))
			return
		}
		u := *r.URL
		u.Path, u.RawPath = rest, rawRest
		r.URL = &u
		next.ServeHTTP(&prefixedRedirects{ResponseWriter: w, prefix: s.prefix}, r)
	})
}

// cutSegments splits an escaped path after its first n segments: "/a/b/c" with
// n 1 is "/a" and "/b/c". A path of n segments or fewer is all head.
func cutSegments(escaped string, n int) (head, rest string) {
	i := 0
	for range n {
		if i+1 > len(escaped) {
			return escaped, ""
		}
		j := strings.IndexByte(escaped[i+1:], '/')
		if j < 0 {
			return escaped, ""
		}
		i += 1 + j
	}
	return escaped[:i], escaped[i:]
}

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

// canonicalAPIPaths answers a /v1 path that is not in its plain form (a //,
// a . or .. segment, a trailing slash) with a JSON 404 naming the plain one:
// the router would redirect it with a 307, which a client follows with its
// body and its API key. The key is checked first, as for every /v1 path: an
// unauthenticated caller gets 401 whatever the path, and a wrong key counts
// toward the address's limit.
func (s *Server) canonicalAPIPaths(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The escaped path: a %2F inside a value (a user id) is no separator.
		if p := r.URL.EscapedPath(); strings.HasPrefix(p, "/v1/") {
			if plain := path.Clean(p); plain != p {
				if len(plain) > 200 {
					plain = plain[:200] + "..."
				}
				s.requireAPIKey(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					writeError(w, r, errNotFound("the path is not in its plain form; the route is "+plain))
				})).ServeHTTP(w, r)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
