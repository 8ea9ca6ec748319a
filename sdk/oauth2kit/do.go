package oauth2kit

import (
	"context"
	"net/http"

	"github.com/idplug/idplug/sdk"
)

// Response is a provider's answer to a request sent with HTTPClient.Do, read
// whole under the client's size cap.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	r      *response // what the request carried, for the errors' redaction
}

// Do sends a request of the connector's own making (one its provider wants
// signed, say, which TokenEndpoint and APIClient cannot make) as the kit's own
// requests go: through the host's egress proxy, under the client's timeout and
// size cap, traced, never following a redirect. It returns the answer whatever
// its status; Response.Err and Response.Token read it. what names the endpoint
// in errors ("user endpoint"); secrets are what req carries that no error may
// repeat (its Authorization header's credentials are added). A provider that
// cannot be reached, is too slow, or answers past the cap is an *sdk.Error with
// the code the kit checks for: provider_unavailable, provider_timeout,
// invalid_response.
func (c *HTTPClient) Do(ctx context.Context, req *http.Request, what string, secrets ...string) (*Response, error) {
	if req == nil || req.URL == nil {
		return nil, sdk.Errorf(sdk.CodeGeneral, "HTTPClient.Do needs a request with a URL")
	}
	r, err := c.do(ctx, req, what, secrets...)
	if err != nil {
		return nil, err
	}
	return &Response{Status: r.status, Header: r.header, Body: r.body, r: r}, nil
}

// Err is nil for a 2xx answer. Otherwise it is an *sdk.Error naming what
// answered and its status, with a piece of the provider's text, redacted of
// the request's secrets: provider_unavailable for 5xx, rate_limit_exceeded for
// 429, invalid_response for the rest. A connector that gives a status its own
// meaning (401 for an expired access token, say) checks Status first.
func (r *Response) Err(what string) error {
	if r.Status >= 200 && r.Status < 300 {
		return nil
	}
	problem := "to the request"
	if text := r.r.text(string(r.Body)); text != "" {
		problem = "(" + text + ")"
	}
	return unexpectedAnswer(what, r.r, problem)
}

// Token reads the answer as a token endpoint's (ParseTokenResponse), its
// errors redacted of what the request carried.
func (r *Response) Token(format ResponseFormat, grant GrantType) (*Token, error) {
	return parseTokenAnswer(r.r, format, grant)
}
