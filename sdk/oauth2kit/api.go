package oauth2kit

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/idplug/idplug/sdk"
)

// APIClient calls a provider's REST API with the signed-in user's access token, for
// profiles that one userinfo endpoint does not give whole: GitHub's /user and
// /user/emails, for example. Unlike UserInfoEndpoint it sends the provider's own
// headers and accepts any JSON answer, arrays included.
type APIClient struct {
	// BaseURL is where request paths are resolved, such as "https://api.github.com"
	// or "https://github.example.com/api/v3". Its own path is kept.
	BaseURL string
	// Header is sent with every request: an Accept media type, an API version...
	// Authorization and User-Agent are set by the client and cannot be replaced.
	Header http.Header
	HTTP   *HTTPClient
}

// Get calls GET BaseURL/path with accessToken as a Bearer token and returns the JSON
// answer, byte for byte. path may carry a query string.
//
// Failures are *sdk.Errors: 401 is social_invalid_access_token; 429, or a 403 that
// says the rate limit is exhausted (X-RateLimit-Remaining: 0), is
// rate_limit_exceeded; any other status is invalid_response (4xx) or
// provider_unavailable (5xx), with the status in Details["status"] and the
// provider's own "message" in Details["message"] when it sent one.
func (c *APIClient) Get(ctx context.Context, path, accessToken string) ([]byte, error) {
	body, _, err := c.GetWithHeader(ctx, path, accessToken)
	return body, err
}

// GetWithHeader is Get that also returns the answer's header, for what a
// provider says beside the body: GitHub's Link (where the next page is) and
// X-GitHub-SSO (a list SAML single sign-on left partial), for example. The
// header comes only with an answer Get would return; the call's deadline, size
// caps and errors are Get's. Its values are the provider's text as sent: a
// caller that puts one in an error or a log bounds it first.
func (c *APIClient) GetWithHeader(ctx context.Context, path, accessToken string) ([]byte, http.Header, error) {
	u := c.url(path)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, sdk.Errorf(sdk.CodeInvalidConfig, "the API URL %q is not usable", u)
	}
	for k, v := range c.Header {
		req.Header[http.CanonicalHeaderKey(k)] = append([]string(nil), v...)
	}
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	what := "API (" + apiPath(path) + ")"
	resp, err := c.HTTP.do(ctx, req, what, accessToken)
	if err != nil {
		return nil, nil, err
	}
	if resp.status < 200 || resp.status >= 300 {
		return nil, nil, redact(apiError(what, resp), resp.sent.forms()...)
	}
	body := bytes.TrimSpace(resp.body)
	if !json.Valid(body) {
		return nil, nil, unexpectedAnswer(what, resp, "with a body that is not JSON")
	}
	return body, resp.header, nil
}

// url joins BaseURL and path with exactly one slash between them.
func (c *APIClient) url(path string) string {
	return strings.TrimRight(c.BaseURL, "/") + "/" + strings.TrimLeft(path, "/")
}

// apiPath is the path without its query, for messages: a query may carry anything.
func apiPath(path string) string {
	p, _, _ := strings.Cut(path, "?")
	return "/" + strings.TrimLeft(p, "/")
}

func apiError(what string, r *response) *sdk.Error {
	oe := bearerError(r)
	var e *sdk.Error
	switch {
	case r.status == http.StatusUnauthorized || oe.code == "invalid_token":
		e = sdk.Errorf(sdk.CodeSocialAccessTokenInvalid, "the %s refused the access token (%s)", what, oe.summary())
	// RFC 6750's answer to a token without the scope a call needs (GitLab's
	// /api/v4/user without read_user): the configured scope is short, as
	// UserInfoEndpoint says of the same answer.
	case oe.code == "insufficient_scope":
		e = sdk.Errorf(sdk.CodeInvalidConfig, "the %s wants more scope than the token has (%s): check scope", what, oe.summary())
	// A 403 is a rate limit when the limit is spent (X-RateLimit-Remaining: 0)
	// or when it says when to come back (Retry-After): GitHub's secondary limits
	// answer so with requests left in the primary one.
	case r.status == http.StatusTooManyRequests ||
		r.status == http.StatusForbidden && (r.header.Get("X-RateLimit-Remaining") == "0" || r.header.Get("Retry-After") != ""):
		e = sdk.Errorf(sdk.CodeRateLimitExceeded, "the %s answered HTTP %d: the rate limit is exhausted; try again later", what, r.status).
			WithDetail("status", r.status)
		if after := r.header.Get("Retry-After"); after != "" {
			e.WithDetail("retryAfter", r.text(after))
		}
		if reset := r.header.Get("X-RateLimit-Reset"); reset != "" {
			e.WithDetail("rateLimitReset", r.text(reset))
		}
	default:
		e = unexpectedAnswer(what, r, "instead of a result")
	}
	for k, v := range oe.details() {
		e.WithDetail(k, v)
	}
	if msg := apiMessage(r); msg != "" {
		e.WithDetail("message", msg)
	}
	return e
}

// apiMessage reads the "message" field that REST APIs such as GitHub's put in their
// error bodies ({"message":"Bad credentials"}).
func apiMessage(r *response) string {
	var v struct {
		Message any `json:"message"`
	}
	if json.Unmarshal(r.body, &v) != nil {
		return ""
	}
	s, _ := v.Message.(string)
	return r.text(s)
}
