package oauth2kit

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/idplug/idplug/sdk"
)

// wantCode fails the test unless err is an *sdk.Error with code, and returns it.
func wantCode(t *testing.T, err error, code sdk.ErrorCode) *sdk.Error {
	t.Helper()
	var e *sdk.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v (%T), want an *sdk.Error with code %s", err, err, code)
	}
	if e.Code != code {
		t.Fatalf("code = %s, want %s (message: %s)", e.Code, code, e.Message)
	}
	return e
}

// wantNoLeak fails the test when any secret appears in err's message or details.
func wantNoLeak(t *testing.T, err error, secrets ...string) {
	t.Helper()
	var e *sdk.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v (%T), want an *sdk.Error", err, err)
	}
	details, _ := json.Marshal(e.Details)
	for _, s := range secrets {
		if s == "" {
			continue
		}
		if strings.Contains(e.Message, s) || strings.Contains(string(details), s) {
			t.Errorf("error leaks %q: %s %s", s, e.Message, details)
		}
	}
}

// newServer starts a loopback server that the test stops when it ends.
func newServer(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func newHTTPClient(t *testing.T, opts HTTPOptions) *HTTPClient {
	t.Helper()
	c, err := NewHTTPClient(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
