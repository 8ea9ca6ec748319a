package connectortest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/idplug/idplug/sdk/oauth2kit"
)

// Provider is a fake OAuth 2.0 provider on a loopback port: an authorization
// endpoint that approves every request at once, a token endpoint that checks what a
// real one checks (the client's credentials, one use per code, the redirect URI, PKCE)
// and a userinfo endpoint that answers with a profile the test chooses. It records
// every request, so tests can assert on what the connector sent, and it can be told
// to fail, so tests can check how the connector reports failures.
//
// Drive a complete sign-in without a browser:
//
//	p := connectortest.NewProvider(t)
//	auth, _ := conn.AuthorizationURI(ctx, cfg, sdk.AuthorizationRequest{RedirectURI: cb, State: "s1"})
//	callback, err := p.Authorize(auth.RedirectTo) // {"code": "...", "state": "s1"}
//	res, err := conn.UserInfo(ctx, cfg, sdk.UserInfoRequest{Session: auth.Session, Callback: callback})
//
// NewProvider's server stops when the test ends; StartProvider's when Close is called.
type Provider struct {
	// URL is the provider's base URL, such as http://127.0.0.1:41234.
	URL string

	srv      *httptest.Server
	settings providerSettings

	mu        sync.Mutex
	profile   string
	resources map[string]string
	codes     map[string]*grant
	access    map[string]*grant
	refresh   map[string]*grant
	failures  map[Endpoint][]answer
	delays    map[Endpoint][]time.Duration
	requests  []Request
	// holds keep the requests they pick unanswered, for signin/timeout;
	// floods answer an endpoint without end, for signin/huge-answer.
	holds  []*hold
	floods map[Endpoint]*flood
	// unverified makes the profile say that its email is not verified.
	unverified bool
	// closed ends every staged delay when the provider stops.
	closed    chan struct{}
	closeOnce sync.Once
	serial    int
	// issued is every code and token the provider handed out: none may ever show in
	// a connector's errors, logs or profiles.
	issued []issuedValue
	// openID signs ID tokens, for a provider made WithIDTokens (nil otherwise).
	openID *openID
}

// issuedValue is a code or token the provider handed out, with its kind ("code",
// "access" or "refresh"), so that a leak can say which kind leaked.
type issuedValue struct{ kind, value string }

// Endpoint names one of the fake provider's endpoints.
type Endpoint string

// The fake provider's endpoints. Requests to other paths (resources set with
// SetResource) are recorded with Endpoint ResourceEndpoint.
const (
	AuthorizationEndpoint Endpoint = "authorization"
	TokenEndpoint         Endpoint = "token"
	UserInfoEndpoint      Endpoint = "userinfo"
	ResourceEndpoint      Endpoint = "resource"
)

// TokenFormat is how the token endpoint encodes its answers.
type TokenFormat string

// The token answer formats.
const (
	// TokenJSON is RFC 6749's application/json, the default.
	TokenJSON TokenFormat = "json"
	// TokenForm is application/x-www-form-urlencoded, as GitHub answers by default:
	// access_token=...&scope=read%3Auser&token_type=bearer.
	TokenForm TokenFormat = "form"
)

// DefaultProfile is the userinfo answer of a new Provider. Its keys are those of
// Logto's default profile map (id, name, avatar, email, phone), and email_verified,
// which the provider sets to false to serve an unverified email
// (ServeUnverifiedEmail).
const DefaultProfile = `{"id":"connectortest-user-1","name":"Connie Tester","avatar":"https://connectortest.example/avatar.png","email":"connie@connectortest.example","email_verified":true,"phone":"+15555550100"}`

// DefaultEmailVerifiedField is the profile field that says whether the email is
// verified, unless WithEmailVerifiedField names another.
const DefaultEmailVerifiedField = "email_verified"

// Request is one request the fake provider received.
type Request struct {
	Endpoint Endpoint
	Method   string
	// Path is the URL path; Query its query parameters; Form the POST form body.
	Path   string
	Query  url.Values
	Form   url.Values
	Header http.Header
	// ClientAuth is how a token request authenticated the client ("" elsewhere).
	ClientAuth ClientAuthMethod
}

// ClientAuthMethod is how a client authenticates at the token endpoint: the same
// type as oauth2kit.AuthMethod, so a connector's own constant can be handed to
// WithClientAuth. The fake provider accepts the two methods that send the
// secret itself, and none for a public client.
type ClientAuthMethod = oauth2kit.AuthMethod

// The client authentication methods the fake provider knows, named as
// token_endpoint_auth_method values (oauth2kit's constants of the same name).
const (
	ClientSecretBasic = oauth2kit.ClientSecretBasic
	ClientSecretPost  = oauth2kit.ClientSecretPost
	ClientAuthNone    = oauth2kit.AuthNone
)

// grant is what one authorization allowed: its code, and the tokens issued for it.
type grant struct {
	redirectURI     string
	challenge       string
	challengeMethod string
	scope           string
	// nonce is the authorization request's, for its ID token; authTime when
	// the user "signed in" (the authorization request).
	nonce    string
	authTime time.Time
	used     bool
	tokens   []string // access and refresh tokens issued for it
}

// answer is a canned response.
type answer struct {
	status int
	body   string
	// contentType, when set, is sent instead of the one the body suggests.
	contentType string
	// location, when set, is the answer's Location (a redirect).
	location string
}

// NewProvider starts a fake provider that the test stops when it ends.
func NewProvider(t T, opts ...ProviderOption) *Provider {
	t.Helper()
	p, err := StartProvider(opts...)
	if err != nil {
		t.Fatalf("connectortest: starting the fake provider: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

// StartProvider starts a fake provider outside a test, on a loopback port, for trying
// a connector by hand (cmd/fakeprovider runs one). Close stops it.
func StartProvider(opts ...ProviderOption) (*Provider, error) {
	s := providerSettings{
		authorizePath: "/authorize",
		tokenPath:     "/token",
		userInfoPath:  "/userinfo",
		clientID:      "connectortest-client",
		clientSecret:  "connectortest-secret-" + randomHex(12),
		format:        TokenJSON,
		errorStatus:   http.StatusBadRequest,
		refreshTokens: true,
		profile:       DefaultProfile,
		verifiedField: DefaultEmailVerifiedField,
	}
	for _, o := range opts {
		o(&s)
	}
	for _, path := range []string{s.authorizePath, s.tokenPath, s.userInfoPath} {
		if !strings.HasPrefix(path, "/") {
			return nil, fmt.Errorf("the endpoint path %q does not start with /", path)
		}
	}
	if !json.Valid([]byte(s.profile)) {
		return nil, errors.New("the profile is not valid JSON")
	}
	switch s.clientAuth {
	case "", ClientSecretBasic, ClientSecretPost, ClientAuthNone:
	default:
		return nil, fmt.Errorf("unknown client authentication method %q", s.clientAuth)
	}
	p := &Provider{
		settings:  s,
		profile:   s.profile,
		resources: map[string]string{},
		codes:     map[string]*grant{},
		access:    map[string]*grant{},
		refresh:   map[string]*grant{},
		failures:  map[Endpoint][]answer{},
		delays:    map[Endpoint][]time.Duration{},
		floods:    map[Endpoint]*flood{},
		closed:    make(chan struct{}),
	}
	if s.idTokens {
		p.openID = newOpenID()
	}
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(p.serve))
	// A flood's handler reaches its connection through the request's context.
	p.srv.Config.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		return context.WithValue(ctx, connKey{}, c)
	}
	if s.addr != "" {
		l, err := net.Listen("tcp", s.addr)
		if err != nil {
			return nil, err
		}
		p.srv.Listener.Close()
		p.srv.Listener = l
	}
	p.srv.Start()
	p.URL = p.srv.URL
	return p, nil
}

// Close stops the provider's server; a request held by DelayNext, or by a check,
// ends first, and so does an answer a check made endless.
func (p *Provider) Close() {
	p.closeOnce.Do(func() { close(p.closed) })
	p.srv.Close()
}

// ClientAuth is the client authentication method the token endpoint requires
// (WithClientAuth), or "" when it accepts client_secret_basic and client_secret_post.
func (p *Provider) ClientAuth() ClientAuthMethod { return p.settings.clientAuth }

// DelayNext makes the next request to endpoint wait d before it is answered; calls
// queue up. The wait ends early, with no answer, when the request's context ends
// (the client gave up) or the provider is closed, so a delay never outlives the
// request or the test.
func (p *Provider) DelayNext(endpoint Endpoint, d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delays[endpoint] = append(p.delays[endpoint], d)
}

// ServeUnverifiedEmail makes the field WithEmailVerifiedField names false (null for
// WithEmailVerifiedAtField) in every answer (on), or leaves the answers as set (off).
func (p *Provider) ServeUnverifiedEmail(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.unverified = on
}

// AuthorizationEndpoint, TokenEndpoint and UserInfoEndpoint are the endpoints' URLs.
func (p *Provider) AuthorizationEndpoint() string { return p.URL + p.settings.authorizePath }

// TokenEndpoint is the token endpoint's URL.
func (p *Provider) TokenEndpoint() string { return p.URL + p.settings.tokenPath }

// UserInfoEndpoint is the userinfo endpoint's URL.
func (p *Provider) UserInfoEndpoint() string { return p.URL + p.settings.userInfoPath }

// ClientID is the id of the client the provider knows.
func (p *Provider) ClientID() string { return p.settings.clientID }

// ClientSecret is that client's secret ("" for a public client).
func (p *Provider) ClientSecret() string { return p.settings.clientSecret }

// Profile is the userinfo endpoint's answer.
func (p *Provider) Profile() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.profile
}

// Issued returns every authorization code, access token, refresh token and ID
// token the provider has handed out, oldest first.
func (p *Provider) Issued() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, len(p.issued))
	for i, v := range p.issued {
		out[i] = v.value
	}
	return out
}

// issuedWithKinds is Issued with each value's kind.
func (p *Provider) issuedWithKinds() []issuedValue {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]issuedValue(nil), p.issued...)
}

// SetProfile changes the userinfo endpoint's answer.
func (p *Provider) SetProfile(profileJSON string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.profile = profileJSON
}

// SetResource serves body (JSON) at path to requests with a valid access token, for
// the API calls a connector makes besides userinfo (GitHub's /user/emails).
func (p *Provider) SetResource(path, body string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.resources[path] = body
}

// FailNext makes the next request to endpoint get status and body instead of its
// answer; calls queue up. A JSON body is sent as application/json, a form-encoded one
// as application/x-www-form-urlencoded. A 401 also carries WWW-Authenticate:
// Bearer error="invalid_token". For ResourceEndpoint it applies to any resource.
func (p *Provider) FailNext(endpoint Endpoint, status int, body string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failures[endpoint] = append(p.failures[endpoint], answer{status: status, body: body})
}

// answerNext is FailNext with a Content-Type of its own.
func (p *Provider) answerNext(endpoint Endpoint, a answer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failures[endpoint] = append(p.failures[endpoint], a)
}

// ClearFailures drops the failures FailNext queued, the delays DelayNext
// queued and the ID token changes EditNextIDToken, ForgeNextIDToken and
// OmitNextIDToken queued, that no request used.
func (p *Provider) ClearFailures() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failures = map[Endpoint][]answer{}
	p.delays = map[Endpoint][]time.Duration{}
	if p.openID != nil {
		p.openID.tweaks = nil
	}
}

// RevokeTokens makes every access and refresh token issued so far invalid.
func (p *Provider) RevokeTokens() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.access, p.refresh = map[string]*grant{}, map[string]*grant{}
}

// Requests returns every request received so far, oldest first.
func (p *Provider) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request(nil), p.requests...)
}

// RequestsTo returns the requests to one endpoint, oldest first.
func (p *Provider) RequestsTo(e Endpoint) []Request {
	var out []Request
	for _, r := range p.Requests() {
		if r.Endpoint == e {
			out = append(out, r)
		}
	}
	return out
}

// Authorize plays the browser and the user who consents: it sends authURL, which
// must point at this provider's authorization endpoint, and returns the parameters
// of the callback the provider redirects to (code and state), ready for
// sdk.UserInfoRequest.Callback. It fails when the provider refuses the request: an
// unknown client_id, no redirect_uri, a response_type other than code, or a PKCE
// method other than S256 or plain.
func (p *Provider) Authorize(authURL string) (map[string]string, error) {
	u, err := url.Parse(authURL)
	if err != nil {
		return nil, fmt.Errorf("the authorization URL does not parse: %v", err)
	}
	if u.Scheme+"://"+u.Host != p.URL || u.Path != p.settings.authorizePath {
		return nil, fmt.Errorf("the authorization URL %s%s is not this provider's authorization endpoint %s", u.Host, u.Path, p.AuthorizationEndpoint())
	}
	client := *p.srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Get(authURL)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusFound {
		return nil, fmt.Errorf("the provider refused the authorization request: HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		return nil, err
	}
	callback := map[string]string{}
	for k, v := range loc.Query() {
		callback[k] = v[0]
	}
	return callback, nil
}

// Deny is Authorize for a user who refuses: the callback carries
// error=access_denied and the request's state.
func (p *Provider) Deny(authURL string) (map[string]string, error) {
	u, err := url.Parse(authURL)
	if err != nil {
		return nil, fmt.Errorf("the authorization URL does not parse: %v", err)
	}
	return map[string]string{
		"error":             "access_denied",
		"error_description": "The user denied the request.",
		"state":             u.Query().Get("state"),
	}, nil
}

// IssueCode issues an authorization code as if a user had approved a request with
// redirectURI and the PKCE S256 challenge (none when empty), for tests that build
// the callback themselves.
func (p *Provider) IssueCode(redirectURI, codeChallenge string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	g := &grant{redirectURI: redirectURI, challenge: codeChallenge}
	if codeChallenge != "" {
		g.challengeMethod = "S256"
	}
	return p.newCode(g)
}

func (p *Provider) newCode(g *grant) string {
	code := p.secret("code")
	p.codes[code] = g
	return code
}

// secret returns a fresh random value; the lock is held.
func (p *Provider) secret(kind string) string {
	p.serial++
	v := fmt.Sprintf("%s-%d-%s", kind, p.serial, randomHex(12))
	p.issued = append(p.issued, issuedValue{kind, v})
	return v
}
