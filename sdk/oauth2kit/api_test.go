package oauth2kit

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/idplug/idplug/sdk"
)

func apiStub(t *testing.T, status int, header map[string]string, body string, seen *http.Request) *APIClient {
	t.Helper()
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if seen != nil {
			*seen = *r.Clone(context.Background())
		}
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	})
	return &APIClient{
		BaseURL: srv.URL + "/api/v3/",
		Header:  http.Header{"Accept": {"application/vnd.github+json"}, "X-Github-Api-Version": {"2022-11-28"}},
		HTTP:    newHTTPClient(t, HTTPOptions{UserAgent: "kit-test"}),
	}
}

func TestAPIGetSendsHeadersAndReturnsAnyJSON(t *testing.T) {
	for _, body := range []string{`{"id":1}`, ` [{"email":"a@example.com"}] `} {
		var seen http.Request
		c := apiStub(t, 200, map[string]string{"Content-Type": jsonType}, body, &seen)
		raw, err := c.Get(context.Background(), "/user/emails?per_page=100", "the-token")
		if err != nil {
			t.Fatal(err)
		}
		if want := strings.TrimSpace(body); string(raw) != want {
			t.Errorf("raw = %q, want %q", raw, want)
		}
		if seen.URL.Path != "/api/v3/user/emails" || seen.URL.RawQuery != "per_page=100" {
			t.Errorf("requested %s", seen.URL)
		}
		for k, want := range map[string]string{
			"Authorization":        "Bearer the-token",
			"Accept":               "application/vnd.github+json",
			"X-GitHub-Api-Version": "2022-11-28",
			"User-Agent":           "kit-test",
		} {
			if got := seen.Header.Get(k); got != want {
				t.Errorf("%s = %q, want %q", k, got, want)
			}
		}
	}
}

// TestAPIGetWithHeaderReturnsTheAnswersHeader: a caller that must read what a
// provider says beside the body (GitHub's Link, X-GitHub-SSO) gets the header
// of an answer Get accepts, and Get's error, with no header, otherwise.
func TestAPIGetWithHeaderReturnsTheAnswersHeader(t *testing.T) {
	link := `<https://api.github.com/user/orgs?page=2>; rel="next"`
	c := apiStub(t, 200, map[string]string{"Content-Type": jsonType, "Link": link, "X-GitHub-SSO": "partial-results; organizations=21955855"}, ` [{"login":"acme"}] `, nil)
	raw, header, err := c.GetWithHeader(context.Background(), "/user/orgs", "the-token")
	if err != nil {
		t.Fatal(err)
	}
	if string(raw) != `[{"login":"acme"}]` || header.Get("Link") != link || header.Get("X-GitHub-SSO") != "partial-results; organizations=21955855" {
		t.Errorf("raw = %s, header = %v", raw, header)
	}
	for _, tt := range []struct {
		status int
		body   string
		code   sdk.ErrorCode
	}{{404, `{"message":"Not Found"}`, sdk.CodeInvalidResponse}, {200, "<html>", sdk.CodeInvalidResponse}, {401, "", sdk.CodeSocialAccessTokenInvalid}} {
		c := apiStub(t, tt.status, map[string]string{"Link": link}, tt.body, nil)
		raw, header, err := c.GetWithHeader(context.Background(), "/user/orgs", "the-token")
		wantCode(t, err, tt.code)
		if raw != nil || header != nil {
			t.Errorf("HTTP %d %q: raw %q and header %v came with the error", tt.status, tt.body, raw, header)
		}
	}
}

func TestAPIGetCannotReplaceTheToken(t *testing.T) {
	var seen http.Request
	c := apiStub(t, 200, nil, `{}`, &seen)
	c.Header.Set("Authorization", "Bearer other")
	if _, err := c.Get(context.Background(), "user", "the-token"); err != nil {
		t.Fatal(err)
	}
	if got := seen.Header.Get("Authorization"); got != "Bearer the-token" {
		t.Errorf("Authorization = %q", got)
	}
}

func TestAPIGetErrors(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		header  map[string]string
		body    string
		code    sdk.ErrorCode
		details map[string]any
	}{
		{"401 GitHub style", 401, map[string]string{"Content-Type": jsonType}, `{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}`,
			sdk.CodeSocialAccessTokenInvalid, map[string]any{"status": 401, "message": "Bad credentials"}},
		{"401 repeating the token", 401, map[string]string{"WWW-Authenticate": `Bearer error="invalid_token", error_description="bad the-token"`}, "",
			sdk.CodeSocialAccessTokenInvalid, map[string]any{"error_description": "bad [redacted]"}},
		{"403 rate limit", 403, map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1700000000"}, `{"message":"API rate limit exceeded"}`,
			sdk.CodeRateLimitExceeded, map[string]any{"status": 403, "rateLimitReset": "1700000000"}},
		{"429", 429, map[string]string{"Retry-After": "30"}, "", sdk.CodeRateLimitExceeded, map[string]any{"retryAfter": "30"}},
		// GitHub's secondary limits: 403 with Retry-After, the primary limit not spent.
		{"403 secondary rate limit", 403, map[string]string{"Retry-After": "60", "X-RateLimit-Remaining": "4998"},
			`{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}`,
			sdk.CodeRateLimitExceeded, map[string]any{"status": 403, "retryAfter": "60"}},
		{"403 forbidden", 403, nil, `{"message":"Resource not accessible by integration"}`, sdk.CodeInvalidResponse,
			map[string]any{"status": 403, "message": "Resource not accessible by integration"}},
		{"404", 404, nil, `{"message":"Not Found"}`, sdk.CodeInvalidResponse, map[string]any{"status": 404}},
		// GitLab's /api/v4/user for a token without read_user, as UserInfoEndpoint reads it.
		{"403 insufficient scope", 403, map[string]string{"WWW-Authenticate": `Bearer realm="Protected by OAuth 2.0", error="insufficient_scope", error_description="The request requires higher privileges than provided by the access token.", scope="read_user"`},
			`{"error":"insufficient_scope","error_description":"The request requires higher privileges than provided by the access token.","scope":"read_user"}`,
			sdk.CodeInvalidConfig, map[string]any{"status": 403, "error": "insufficient_scope"}},
		{"403 insufficient scope in the body only", 403, map[string]string{"Content-Type": jsonType}, `{"error":"insufficient_scope"}`,
			sdk.CodeInvalidConfig, map[string]any{"status": 403, "error": "insufficient_scope"}},
		{"502", 502, nil, "", sdk.CodeProviderUnavailable, map[string]any{"status": 502}},
		{"not JSON", 200, map[string]string{"Content-Type": "text/html"}, "<html>", sdk.CodeInvalidResponse, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := apiStub(t, tt.status, tt.header, tt.body, nil).Get(context.Background(), "/user", "the-token")
			e := wantCode(t, err, tt.code)
			for k, v := range tt.details {
				if e.Details[k] != v {
					t.Errorf("details[%s] = %v, want %v (all: %v)", k, e.Details[k], v, e.Details)
				}
			}
			wantNoLeak(t, err, "the-token")
		})
	}
}

func TestAPIGetUnusableURL(t *testing.T) {
	c := &APIClient{BaseURL: "http://[::1", HTTP: newHTTPClient(t, HTTPOptions{})}
	_, err := c.Get(context.Background(), "/user", "the-token")
	wantCode(t, err, sdk.CodeInvalidConfig)
}
