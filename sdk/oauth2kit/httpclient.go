package oauth2kit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/idplug/idplug/sdk"
	"github.com/idplug/idplug/sdk/internal/traces"
)

const (
	// DefaultRequestTimeout bounds one HTTP call. It stays below the host's default
	// 10s call deadline so that a slow provider is reported as such, not as a slow plugin.
	DefaultRequestTimeout = 8 * time.Second
	// DefaultMaxResponseBytes caps what is read of a provider's answer.
	DefaultMaxResponseBytes int64 = 1 << 20
	// DefaultUserAgent is sent when HTTPOptions.UserAgent is empty. Some APIs
	// (GitHub's among them) refuse requests without one.
	DefaultUserAgent = "idplug-oauth2kit"
)

// HTTPOptions configure an HTTPClient.
type HTTPOptions struct {
	// Timeout bounds each request, from sending it to reading the whole answer
	// (DefaultRequestTimeout when zero).
	Timeout time.Duration
	// UserAgent is sent with every request (DefaultUserAgent when empty).
	UserAgent string
	// CACertificates is a PEM bundle of extra roots to trust besides the system's.
	CACertificates string
	// MaxResponseBytes caps the size of an answer (DefaultMaxResponseBytes when zero).
	MaxResponseBytes int64
}

// HTTPClient makes the calls to a provider's endpoints. It is safe for concurrent use.
type HTTPClient struct {
	// transport is asked directly, never through an http.Client: a
	// redirect from a token endpoint would carry the code and the client's
	// credentials somewhere the operator did not configure, so none is
	// followed, and a client's redirect handling asks a request's GetBody
	// for a 307 before its CheckRedirect could refuse.
	transport http.RoundTripper
	timeout   time.Duration
	userAgent string
	maxBody   int64
}

// NewHTTPClient returns a client for opts. Clients with the same CA certificates
// share one connection pool. It fails only when CACertificates is not usable.
func NewHTTPClient(opts HTTPOptions) (*HTTPClient, error) {
	transport, err := sharedTransport(opts.CACertificates)
	if err != nil {
		return nil, err
	}
	c := &HTTPClient{
		// A client span per request when the host traces calls.
		transport: traces.Transport(transport),
		timeout:   opts.Timeout,
		userAgent: opts.UserAgent,
		maxBody:   opts.MaxResponseBytes,
	}
	if c.timeout <= 0 {
		c.timeout = DefaultRequestTimeout
	}
	if c.userAgent == "" {
		c.userAgent = DefaultUserAgent
	}
	if c.maxBody <= 0 {
		c.maxBody = DefaultMaxResponseBytes
	}
	return c, nil
}

// Timeout is the bound of one request.
func (c *HTTPClient) Timeout() time.Duration { return c.timeout }

// response is a provider's answer, read whole.
type response struct {
	status      int
	header      http.Header
	contentType string
	body        []byte
	// sent are what the request carried that must never come back out in an
	// error: the provider's text is redacted of them before it is shortened.
	sent sentSecrets
}

// text makes a piece of the provider's answer fit for an error message.
func (r *response) text(s string) string { return providerText(s, r.sent.forms()) }

// do sends req under the request timeout and reads the answer up to the size cap.
// what names the endpoint in errors ("token endpoint"); secrets are what the
// request carries that no error may repeat (the Authorization header's
// credentials are added, and every secret's form-encoded form). Every error is an
// *sdk.Error.
func (c *HTTPClient) do(ctx context.Context, req *http.Request, what string, secrets ...string) (*response, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req = req.WithContext(ctx)
	if req.Body != nil && req.GetBody != nil {
		// A body is sent once: net/http's HTTP/2 client sent it again after
		// a stream reset, up to six times, once the provider had read it,
		// and a code, a rotated refresh token or an assertion's jti sent
		// twice ends the grant. A request whose body was not read yet (a
		// stale keep-alive connection, a stream refused before it began)
		// is still retried.
		req.Body, req.GetBody = onceBody(req.Body, req.GetBody)
	}
	req.Header.Set("User-Agent", c.userAgent)
	sent := &sentSecrets{given: secrets, auth: req.Header.Get("Authorization")}

	resp, err := c.transport.RoundTrip(req)
	if err != nil {
		return nil, transportError(ctx, start, err, what, req.URL.Host, sent.forms())
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 {
		// net/http hands over a 101's connection as the body, beyond the reach of
		// any deadline: reading it waited as long as the provider kept it open.
		return nil, sdk.Errorf(sdk.CodeInvalidResponse, "the %s answered HTTP %d, which is not an answer to this request", what, resp.StatusCode).
			WithDetail("status", resp.StatusCode)
	}
	if resp.ContentLength > c.maxBody {
		return nil, c.tooLarge(what)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		return nil, transportError(ctx, start, err, what, req.URL.Host, sent.forms())
	}
	if int64(len(body)) > c.maxBody {
		return nil, c.tooLarge(what)
	}
	return &response{
		status:      resp.StatusCode,
		header:      resp.Header,
		contentType: resp.Header.Get("Content-Type"),
		body:        body,
		sent:        *sent,
	}, nil
}

// sentSecrets are the secrets a request carries, as given and with its
// Authorization header; forms are worked out only for an error, off the path
// of every answer that needs none.
type sentSecrets struct {
	given []string
	auth  string
	all   []string
}

// forms is each secret as the request carries it: as given and form-encoded
// (a base64 secret's "+/=", a code like "4/0A..."), and the credentials of its
// Authorization header (Basic's base64 of id and secret). A provider, or a
// proxy before it, may echo any of them back in an error.
func (s *sentSecrets) forms() []string {
	if s.all != nil {
		return s.all
	}
	s.all = make([]string, 0, 2*len(s.given)+1)
	for _, v := range s.given {
		if v == "" {
			continue
		}
		s.all = append(s.all, v)
		if q := url.QueryEscape(v); q != v {
			s.all = append(s.all, q)
		}
	}
	if _, creds, ok := strings.Cut(s.auth, " "); ok && creds != "" {
		s.all = append(s.all, creds)
	}
	return s.all
}

func (c *HTTPClient) tooLarge(what string) *sdk.Error {
	return sdk.Errorf(sdk.CodeInvalidResponse, "the %s's answer is larger than the %s limit", what, byteSize(c.maxBody)).
		WithDetail("limitBytes", c.maxBody)
}

// transportError says whether the provider was too slow or could not be reached. The
// time allowed it reports is the request timeout, or less when the caller's own
// deadline came first. The request URL is left out, cause included: errors from
// net/http repeat it, and an operator may have put a key in a query string.
//
// net/http's errors quote what the provider sent (a malformed status or header
// line, which may echo the request): the text is redacted of secrets and cut as
// the provider's own text is.
func transportError(ctx context.Context, start time.Time, err error, what, host string, secrets []string) *sdk.Error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		deadline, _ := ctx.Deadline()
		allowed := deadline.Sub(start).Round(time.Millisecond)
		return sdk.Errorf(sdk.CodeProviderTimeout, "the %s (%s) did not answer within %s", what, host, allowed).
			WithDetail("timeout", allowed.String())
	}
	if ctx.Err() != nil {
		return sdk.Errorf(sdk.CodeGeneral, "the call to the %s (%s) was canceled", what, host)
	}
	err = unwrapURLError(err)
	return sdk.Errorf(sdk.CodeProviderUnavailable, "could not reach the %s (%s): %s", what, host, providerText(err.Error(), secrets)).WithCause(err)
}

// unwrapURLError drops the "Post \"https://...\":" prefix net/http adds.
func unwrapURLError(err error) error {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return urlErr.Err
	}
	return err
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	default:
		return fmt.Sprintf("%d bytes", n)
	}
}

// errBodySent is what GetBody answers once a request's body was read: the
// transport then gives up instead of sending it again.
var errBodySent = errors.New("the request's body was sent already; it is not sent twice")

// onceBody wraps a request's body so that its GetBody makes a new body only
// while nothing of the body was read.
func onceBody(body io.ReadCloser, getBody func() (io.ReadCloser, error)) (io.ReadCloser, func() (io.ReadCloser, error)) {
	read := new(atomic.Bool)
	wrap := func(b io.ReadCloser) io.ReadCloser { return &readMark{ReadCloser: b, read: read} }
	return wrap(body), func() (io.ReadCloser, error) {
		if read.Load() {
			return nil, errBodySent
		}
		b, err := getBody()
		if err != nil {
			return nil, err
		}
		return wrap(b), nil
	}
}

// readMark notes that its body was read.
type readMark struct {
	io.ReadCloser
	read *atomic.Bool
}

func (r *readMark) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if n > 0 {
		r.read.Store(true)
	}
	return n, err
}
