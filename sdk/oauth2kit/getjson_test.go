package oauth2kit

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/idplug/idplug/sdk"
)

func TestGetJSON(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.Header().Set("Cache-Control", "public, max-age=300")
			w.Write([]byte(` {"issuer":"x"} `))
		case "/array":
			w.Write([]byte(`[1]`))
		case "/big":
			w.Write([]byte(`{"a":"` + strings.Repeat("x", 2<<20) + `"}`))
		case "/down":
			w.WriteHeader(http.StatusBadGateway)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	c, err := NewHTTPClient(HTTPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	doc, err := c.GetJSON(ctx, srv.URL+"/ok", "discovery document")
	if err != nil || string(doc.Body) != `{"issuer":"x"}` || doc.MaxAge != 300*time.Second {
		t.Fatalf("doc = %+v, err = %v", doc, err)
	}
	for path, code := range map[string]sdk.ErrorCode{
		"/array": sdk.CodeInvalidResponse, "/big": sdk.CodeInvalidResponse,
		"/missing": sdk.CodeInvalidResponse, "/down": sdk.CodeProviderUnavailable,
	} {
		_, err := c.GetJSON(ctx, srv.URL+path, "discovery document")
		if e := sdk.AsError(err); e == nil || e.Code != code {
			t.Errorf("%s: err = %v, want %s", path, err, code)
		}
	}
}

func TestMaxAge(t *testing.T) {
	for header, want := range map[string]time.Duration{
		"": 0, "max-age=60": time.Minute, "public, max-age=3600, must-revalidate": time.Hour,
		"no-store, max-age=60": 0, "max-age=-1": 0, "max-age=abc": 0,
	} {
		if got, _ := maxAge(header); got != want {
			t.Errorf("maxAge(%q) = %s, want %s", header, got, want)
		}
	}
}

// TestNoCacheIsToldApartFromNoMaxAge: a header that forbids keeping the
// document and one that says nothing both have no max-age; a cache that
// took both for "not said" kept the first for its default, the longest.
func TestNoCacheIsToldApartFromNoMaxAge(t *testing.T) {
	for header, want := range map[string]bool{
		"max-age=0": true, "no-store": true, "no-cache": true, "public, max-age=0, must-revalidate": true,
		"max-age=60, no-store": true, `max-age="0"`: true,
		"": false, "public": false, "max-age=60": false, "max-age=-1": false, "max-age=abc": false,
	} {
		if _, got := maxAge(header); got != want {
			t.Errorf("maxAge(%q) says no-cache %t, want %t", header, got, want)
		}
	}
}
