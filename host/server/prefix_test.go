package server

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// Under a public_url path, an escaped "/" in a path value stays in the value:
// it was decoded into a separator, and the router's cleaning then redirected
// a request for user alice%2F..%2Fbob to bob's tokens (a 307 keeps the method
// and the API key). The same whatever escaping the client gave the public path:
// the escaped path was kept only when it began with Go's own escaping of it,
// which "(" or lowercase hex or "/%69dp" are not.
func TestEscapedSlashesStayInPathValues(t *testing.T) {
	for _, tc := range []struct{ prefix, path, want string }{
		{"/idp", "/idp/v1/connectors/acme/users/alice%2F..%2Fbob/tokens", "alice/../bob"},
		{"/idp", "/idp/v1/connectors/acme/users/a%2Fb/tokens", "a/b"},
		{"/idp", "/idp/v1/connectors/acme/users/alice/tokens", "alice"},
		{"/idp", "/%69dp/v1/connectors/acme/users/alice%2F..%2Fbob/tokens", "alice/../bob"},
		{"/id(p)", "/id(p)/v1/connectors/acme/users/alice%2F..%2Fbob/tokens", "alice/../bob"},
		{"/id(p)", "/id%28p%29/v1/connectors/acme/users/alice%2F..%2Fbob/tokens", "alice/../bob"},
		{"/café", "/caf%c3%a9/v1/connectors/acme/users/alice%2F..%2Fbob/tokens", "alice/../bob"},
		{"/café", "/caf%C3%A9/v1/connectors/acme/users/alice%2F..%2Fbob/tokens", "alice/../bob"},
		{"/a/b", "/a/b/v1/connectors/acme/users/alice%2F..%2Fbob/tokens", "alice/../bob"},
	} {
		s := &Server{prefix: tc.prefix}
		var got []string
		mux := http.NewServeMux()
		mux.HandleFunc("/v1/connectors/{id}/users/{userId}/tokens", func(w http.ResponseWriter, r *http.Request) {
			got = append(got, r.PathValue("userId"))
		})
		rec := httptest.NewRecorder()
		s.underPrefix(mux).ServeHTTP(rec, httptest.NewRequest(http.MethodDelete, tc.path, nil))
		if rec.Code != http.StatusOK || len(got) != 1 || got[0] != tc.want {
			t.Errorf("prefix %s, %s: %d, Location %q, userId %q; want %q", tc.prefix, tc.path, rec.Code, rec.Header().Get("Location"), got, tc.want)
		}
	}
}

// Outside the public path is 404, however it is spelled: an escaped "/" inside
// the public path's segments, another path, a bad escape.
func TestOutsideThePublicPathIsNotFound(t *testing.T) {
	s := &Server{prefix: "/a/b"}
	h := s.underPrefix(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("%s reached the routes as %s", r.RequestURI, r.URL.Path)
	}))
	for _, path := range []string{"/a%2Fb/v1/connectors", "/a/bc/v1/connectors", "/a/v1", "/b/a/v1", "/a/b%zz/v1", "/"} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.URL = &url.URL{Path: path, RawPath: path}
		if p, err := url.PathUnescape(path); err == nil {
			req.URL.Path = p
		}
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, rec.Code)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/a/b", nil))
	if rec.Code != http.StatusMovedPermanently || rec.Header().Get("Location") != "/a/b/" {
		t.Errorf("/a/b: %d, Location %q; want a 301 to /a/b/", rec.Code, rec.Header().Get("Location"))
	}
}

// The same through a whole server: a DELETE of alice%2F..%2Fbob's tokens under
// a public path with parentheses was redirected, with its method, to bob's.
func TestVaultPathUnderAPublicPathWithParentheses(t *testing.T) {
	srv := newUnitServer(t, &fakeInstances{}, func(s *Settings) {
		s.PublicURL, _ = url.Parse("https://idp.example.test/id(p)")
	})
	res := call(t, srv, http.MethodDelete, "/id(p)/v1/connectors/acme/users/alice%2F..%2Fbob/tokens", "", "")
	if loc := res.header.Get("Location"); res.status == http.StatusTemporaryRedirect || loc != "" {
		t.Fatalf("%d, Location %q: a request for alice/../bob's record was sent to bob's", res.status, loc)
	}
}

// The callback URL a provider is sent is {public_url}/callback/{id} as the
// operator wrote public_url, which is how they register it with the provider,
// and providers compare redirect URIs byte for byte. Go's escaping of the
// path had turned /id(p) into /id%28p%29: the local OpenID provider refused
// every sign-in under such a path with invalid_redirect_uri.
func TestCallbackURLIsThePublicURLAsWritten(t *testing.T) {
	for _, public := range []string{"https://idp.example.test", "https://idp.example.test/idp/", "https://idp.example.test/id(p)",
		"https://idp.example.test/a/id(p)!*/", "https://idp.example.test/caf%c3%a9", "https://idp.example.test/caf%C3%A9"} {
		f := signingIn("ada")
		u, err := url.Parse(public)
		if err != nil {
			t.Fatal(err)
		}
		srv := newUnitServer(t, f, func(s *Settings) { s.PublicURL = u })
		path := strings.TrimPrefix(strings.TrimRight(public, "/"), "https://idp.example.test")
		rec := browserRequest(srv, "GET", path+"/sign-in/acme", "", nil)
		want := strings.TrimRight(public, "/") + "/callback/acme"
		if rec.Code != http.StatusFound || f.request.RedirectURI != want {
			t.Errorf("public_url %s: %d, the provider is sent %q, want %q", public, rec.Code, f.request.RedirectURI, want)
		}
	}
}
