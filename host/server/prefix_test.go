package server

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// Under a public_url path, an escaped "/" in a path value stays in the value:
// it was decoded into a separator, and the router's cleaning then redirected
// a request for user alice%2F..%2Fbob to bob's tokens (a 307 keeps the method
// and the API key).
func TestEscapedSlashesStayInPathValues(t *testing.T) {
	s := &Server{prefix: "/idp"}
	var got []string
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/connectors/{id}/users/{userId}/tokens", func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.PathValue("userId"))
	})
	h := s.underPrefix(mux)
	for path, want := range map[string]string{
		"/idp/v1/connectors/acme/users/alice%2F..%2Fbob/tokens": "alice/../bob",
		"/idp/v1/connectors/acme/users/a%2Fb/tokens":            "a/b",
		"/idp/v1/connectors/acme/users/alice/tokens":            "alice",
	} {
		got = nil
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodDelete, path, nil))
		if rec.Code != http.StatusOK || len(got) != 1 || got[0] != want {
			t.Errorf("%s: %d, Location %q, userId %q; want %q", path, rec.Code, rec.Header().Get("Location"), got, want)
		}
	}
}
