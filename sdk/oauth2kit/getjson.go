package oauth2kit

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/idplug/idplug/sdk"
)

// Document is a JSON document fetched from a provider, with how long it may be kept.
type Document struct {
	Body []byte
	// MaxAge is the freshness the provider gave (Cache-Control max-age); zero when
	// it gave none or forbade caching, which NoCache tells apart.
	MaxAge time.Duration
	// NoCache: the provider asked that the document not be kept (max-age=0,
	// no-store or no-cache). A cache that keeps it anyway should keep it the least.
	NoCache bool
}

// GetJSON fetches a public JSON document such as an OpenID Provider's discovery
// document or its JWK set, under the client's deadline and size cap. what names it
// in errors ("discovery document"). A status other than 200, or a body that is not
// a JSON object, is invalid_response (provider_unavailable for 5xx).
func (c *HTTPClient) GetJSON(ctx context.Context, url, what string) (*Document, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, sdk.Errorf(sdk.CodeInvalidConfig, "the %s URL %q is not usable", what, url)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.do(ctx, req, what)
	if err != nil {
		return nil, err
	}
	if resp.status != http.StatusOK {
		return nil, unexpectedAnswer(what, resp, "instead of the document")
	}
	body := bytes.TrimSpace(resp.body)
	if len(body) == 0 || body[0] != '{' || !json.Valid(body) {
		return nil, unexpectedAnswer(what, resp, "with a body that is not a JSON object")
	}
	age, noCache := maxAge(resp.header.Get("Cache-Control"))
	return &Document{Body: body, MaxAge: age, NoCache: noCache}, nil
}

// maxAge reads max-age from a Cache-Control header, and whether the header
// forbids keeping the document: max-age=0, no-store or no-cache. Both are
// zero when it says neither.
func maxAge(cacheControl string) (age time.Duration, noCache bool) {
	for _, d := range strings.Split(cacheControl, ",") {
		d = strings.ToLower(strings.TrimSpace(d))
		switch {
		case d == "no-store" || d == "no-cache":
			return 0, true
		case strings.HasPrefix(d, "max-age="):
			n, err := strconv.ParseInt(strings.Trim(strings.TrimPrefix(d, "max-age="), `"`), 10, 64)
			switch {
			case err != nil || n < 0 || n >= 1<<31:
				// Unreadable: as if not given.
			case n == 0:
				return 0, true
			default:
				age = time.Duration(n) * time.Second
			}
		}
	}
	return age, false
}
