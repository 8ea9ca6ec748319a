package oauth2kit

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/idplug/idplug/sdk"
)

func userInfoStub(t *testing.T, check func(*http.Request), status int, header map[string]string, body string) *UserInfoEndpoint {
	t.Helper()
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if check != nil {
			check(r)
		}
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	})
	return &UserInfoEndpoint{URL: srv.URL + "/me?fields=id,name", HTTP: newHTTPClient(t, HTTPOptions{})}
}

func TestUserInfoSendsTheTokenInTheHeader(t *testing.T) {
	for _, method := range []string{"", http.MethodGet, http.MethodPost} {
		var seen *http.Request
		e := userInfoStub(t, func(r *http.Request) { seen = r.Clone(context.Background()) }, 200, map[string]string{"Content-Type": jsonType}, ` {"id":1} `)
		e.Method = method
		raw, err := e.Fetch(context.Background(), "the-token")
		if err != nil {
			t.Fatal(err)
		}
		if string(raw) != `{"id":1}` {
			t.Errorf("raw = %q, want the object", raw)
		}
		wantMethod := method
		if wantMethod == "" {
			wantMethod = http.MethodGet
		}
		if seen.Method != wantMethod || seen.Header.Get("Authorization") != "Bearer the-token" {
			t.Errorf("%s %s with Authorization %q", seen.Method, seen.URL, seen.Header.Get("Authorization"))
		}
		if strings.Contains(seen.URL.RawQuery, "the-token") || seen.URL.RawQuery != "fields=id,name" {
			t.Errorf("query = %q, want the endpoint's own and no token", seen.URL.RawQuery)
		}
		if seen.Header.Get("User-Agent") == "" {
			t.Error("no User-Agent")
		}
	}
}

func TestUserInfoErrors(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		header  map[string]string
		body    string
		code    sdk.ErrorCode
		details map[string]any
	}{
		{"401 with a bearer challenge", 401, map[string]string{"WWW-Authenticate": `Bearer realm="x", error="invalid_token", error_description="The access token expired"`}, "",
			sdk.CodeSocialAccessTokenInvalid, map[string]any{"status": 401, "error": "invalid_token", "error_description": "The access token expired"}},
		{"401 with a JSON body", 401, map[string]string{"Content-Type": jsonType}, `{"error":"invalid_token","error_description":"bad"}`,
			sdk.CodeSocialAccessTokenInvalid, map[string]any{"error": "invalid_token"}},
		{"401 bare", 401, nil, "", sdk.CodeSocialAccessTokenInvalid, map[string]any{"status": 401}},
		{"401 repeating the token", 401, map[string]string{"WWW-Authenticate": `Bearer error="invalid_token", error_description="unknown token the-token"`}, "",
			sdk.CodeSocialAccessTokenInvalid, map[string]any{"error_description": "unknown token [redacted]"}},
		{"403 insufficient scope", 403, map[string]string{"WWW-Authenticate": `Bearer error="insufficient_scope"`}, "", sdk.CodeInvalidConfig, map[string]any{"error": "insufficient_scope"}},
		{"404", 404, nil, "not found", sdk.CodeInvalidResponse, map[string]any{"status": 404}},
		{"503", 503, nil, "", sdk.CodeProviderUnavailable, map[string]any{"status": 503}},
		{"HTML", 200, map[string]string{"Content-Type": "text/html"}, "<html></html>", sdk.CodeInvalidResponse, map[string]any{"contentType": "text/html"}},
		{"array", 200, map[string]string{"Content-Type": jsonType}, `[{"id":1}]`, sdk.CodeInvalidResponse, nil},
		{"truncated object", 200, map[string]string{"Content-Type": jsonType}, `{"id":1`, sdk.CodeInvalidResponse, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := userInfoStub(t, nil, tt.status, tt.header, tt.body).Fetch(context.Background(), "the-token")
			e := wantCode(t, err, tt.code)
			for k, v := range tt.details {
				if e.Details[k] != v {
					t.Errorf("details[%s] = %v, want %v", k, e.Details[k], v)
				}
			}
			wantNoLeak(t, err, "the-token")
		})
	}
}
