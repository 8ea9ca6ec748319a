package connectortest

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
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
	// unverified makes the profile say that its email is not verified.
	unverified bool
	// closed ends every staged delay when the provider stops.
	closed    chan struct{}
	closeOnce sync.Once
	serial    int
	// issued is every code and token the provider handed out: none may ever show in
	// a connector's errors or logs.
	issued []string
}

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

// ClientAuthMethod is how a client authenticates at the token endpoint; the fake
// provider accepts the two methods that send the secret itself, and none for a
// public client.
type ClientAuthMethod string

// The client authentication methods, named as token_endpoint_auth_method values.
const (
	ClientSecretBasic ClientAuthMethod = "client_secret_basic"
	ClientSecretPost  ClientAuthMethod = "client_secret_post"
	ClientAuthNone    ClientAuthMethod = "none"
)

// ProviderOption changes how NewProvider sets up the fake provider.
type ProviderOption func(*providerSettings)

type providerSettings struct {
	authorizePath, tokenPath, userInfoPath string
	clientID, clientSecret                 string
	format                                 TokenFormat
	errorStatus                            int
	scope                                  *string
	refreshTokens                          bool
	profile                                string
	addr                                   string
	clientAuth                             ClientAuthMethod
	verifiedResource, verifiedField        string
}

// WithPaths sets the paths of the authorization, token and userinfo endpoints
// (default /authorize, /token and /userinfo), to match a provider's real layout.
func WithPaths(authorize, token, userInfo string) ProviderOption {
	return func(s *providerSettings) { s.authorizePath, s.tokenPath, s.userInfoPath = authorize, token, userInfo }
}

// WithClient sets the client the provider knows (default "connectortest-client" with
// a random secret starting "connectortest-secret-", recognizable wherever it leaks).
// An empty secret makes it a public client, which
// authenticates with its client_id alone.
func WithClient(id, secret string) ProviderOption {
	return func(s *providerSettings) { s.clientID, s.clientSecret = id, secret }
}

// WithTokenFormat sets how the token endpoint encodes its answers (default TokenJSON).
func WithTokenFormat(f TokenFormat) ProviderOption {
	return func(s *providerSettings) { s.format = f }
}

// WithTokenErrorStatus sets the HTTP status of the token endpoint's OAuth errors
// (default 400; GitHub answers 200 with an error field). invalid_client is always 401.
func WithTokenErrorStatus(status int) ProviderOption {
	return func(s *providerSettings) { s.errorStatus = status }
}

// WithGrantedScope sets the scope token answers report (default: the scope the
// authorization request asked for).
func WithGrantedScope(scope string) ProviderOption {
	return func(s *providerSettings) { s.scope = &scope }
}

// WithoutRefreshTokens makes the token endpoint issue access tokens only.
func WithoutRefreshTokens() ProviderOption {
	return func(s *providerSettings) { s.refreshTokens = false }
}

// WithProfile sets the userinfo answer (default DefaultProfile); see also SetProfile.
func WithProfile(profileJSON string) ProviderOption {
	return func(s *providerSettings) { s.profile = profileJSON }
}

// WithClientAuth makes the token endpoint accept only method (client_secret_basic,
// client_secret_post, or none for a public client), as a provider that registers
// each client with one token_endpoint_auth_method does: every other method is
// refused with invalid_client. By default both methods that send the secret are
// accepted, and signin/client-auth checks that the connector uses the one its
// configuration names.
func WithClientAuth(method ClientAuthMethod) ProviderOption {
	return func(s *providerSettings) { s.clientAuth = method }
}

// WithEmailVerifiedField names the field of the userinfo answer that says whether
// the email is verified (default DefaultEmailVerifiedField), as a path such as
// "data.email_verified" or "emails[0].verified"; ServeUnverifiedEmail sets it to
// false.
func WithEmailVerifiedField(path string) ProviderOption {
	return func(s *providerSettings) { s.verifiedResource, s.verifiedField = "", path }
}

// WithEmailVerifiedFieldIn is WithEmailVerifiedField for a provider whose email is
// in another resource (set with SetResource), such as GitHub's /user/emails:
// WithEmailVerifiedFieldIn("/user/emails", "[0].verified").
func WithEmailVerifiedFieldIn(resourcePath, path string) ProviderOption {
	return func(s *providerSettings) { s.verifiedResource, s.verifiedField = resourcePath, path }
}

// WithAddr sets the address the provider listens on (default 127.0.0.1 on a free
// port), for a provider that keeps its URL from one run to the next. Give a
// loopback address: the provider approves every request.
func WithAddr(addr string) ProviderOption {
	return func(s *providerSettings) { s.addr = addr }
}

// grant is what one authorization allowed: its code, and the tokens issued for it.
type grant struct {
	redirectURI     string
	challenge       string
	challengeMethod string
	scope           string
	used            bool
	tokens          []string // access and refresh tokens issued for it
}

// answer is a canned response.
type answer struct {
	status int
	body   string
	// contentType, when set, is sent instead of the one the body suggests.
	contentType string
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
		closed:    make(chan struct{}),
	}
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(p.serve))
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

// Close stops the provider's server; a request held by DelayNext ends first.
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

// ServeUnverifiedEmail makes the field WithEmailVerifiedField names false in every
// answer (on), or leaves the answers as set (off).
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

// Issued returns every authorization code, access token and refresh token the
// provider has handed out, oldest first.
func (p *Provider) Issued() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.issued...)
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

// ClearFailures drops the failures FailNext queued, and the delays DelayNext
// queued, that no request used.
func (p *Provider) ClearFailures() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failures = map[Endpoint][]answer{}
	p.delays = map[Endpoint][]time.Duration{}
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
	p.issued = append(p.issued, v)
	return v
}

func (p *Provider) serve(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	endpoint := p.endpoint(r.URL.Path)
	form := url.Values{}
	if r.Method == http.MethodPost {
		form = r.PostForm
	}
	var auth ClientAuthMethod
	if endpoint == TokenEndpoint {
		auth = clientAuthOf(r)
	}
	p.mu.Lock()
	p.requests = append(p.requests, Request{
		Endpoint: endpoint, Method: r.Method, Path: r.URL.Path,
		Query: r.URL.Query(), Form: form, Header: r.Header.Clone(), ClientAuth: auth,
	})
	var fail *answer
	if queued := p.failures[endpoint]; len(queued) > 0 {
		fail, p.failures[endpoint] = &queued[0], queued[1:]
	}
	var delay time.Duration
	if queued := p.delays[endpoint]; len(queued) > 0 {
		delay, p.delays[endpoint] = queued[0], queued[1:]
	}
	p.mu.Unlock()
	if delay > 0 {
		timer := time.NewTimer(delay)
		select {
		case <-timer.C:
		case <-r.Context().Done():
			timer.Stop()
			return
		case <-p.closed:
			timer.Stop()
			return
		}
	}
	if fail != nil {
		writeCanned(w, *fail)
		return
	}
	switch endpoint {
	case AuthorizationEndpoint:
		p.serveAuthorize(w, r)
	case TokenEndpoint:
		p.serveToken(w, r)
	case UserInfoEndpoint, ResourceEndpoint:
		p.serveResource(w, r, endpoint)
	default:
		http.NotFound(w, r)
	}
}

func (p *Provider) endpoint(path string) Endpoint {
	switch path {
	case p.settings.authorizePath:
		return AuthorizationEndpoint
	case p.settings.tokenPath:
		return TokenEndpoint
	case p.settings.userInfoPath:
		return UserInfoEndpoint
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.resources[path]; ok {
		return ResourceEndpoint
	}
	return ""
}

func writeCanned(w http.ResponseWriter, a answer) {
	body := strings.TrimSpace(a.body)
	switch {
	case a.contentType != "":
		w.Header().Set("Content-Type", a.contentType)
	case strings.HasPrefix(body, "{") || strings.HasPrefix(body, "["):
		w.Header().Set("Content-Type", "application/json")
	case strings.Contains(body, "="):
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded")
	case body != "":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	}
	if a.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	w.WriteHeader(a.status)
	_, _ = io.WriteString(w, a.body)
}

func (p *Provider) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	redirect, err := url.Parse(q.Get("redirect_uri"))
	switch {
	case q.Get("client_id") != p.settings.clientID:
		http.Error(w, fmt.Sprintf("unknown client_id %q", q.Get("client_id")), http.StatusBadRequest)
		return
	case q.Get("redirect_uri") == "" || err != nil || !redirect.IsAbs():
		http.Error(w, "redirect_uri must be an absolute URL", http.StatusBadRequest)
		return
	case q.Has("response_type") && q.Get("response_type") != "code":
		http.Error(w, fmt.Sprintf("unsupported response_type %q", q.Get("response_type")), http.StatusBadRequest)
		return
	}
	g := &grant{redirectURI: q.Get("redirect_uri"), scope: q.Get("scope")}
	if c := q.Get("code_challenge"); c != "" {
		g.challenge, g.challengeMethod = c, q.Get("code_challenge_method")
		if g.challengeMethod == "" {
			g.challengeMethod = "plain"
		}
		if g.challengeMethod != "S256" && g.challengeMethod != "plain" {
			http.Error(w, fmt.Sprintf("unsupported code_challenge_method %q", g.challengeMethod), http.StatusBadRequest)
			return
		}
	}
	p.mu.Lock()
	code := p.newCode(g)
	p.mu.Unlock()
	back := redirect.Query()
	back.Set("code", code)
	if q.Has("state") {
		back.Set("state", q.Get("state"))
	}
	redirect.RawQuery = back.Encode()
	w.Header().Set("Location", redirect.String())
	w.WriteHeader(http.StatusFound)
}

// oauthError is an RFC 6749 section 5.2 error.
type oauthError struct {
	status      int
	code        string
	description string
}

func (p *Provider) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	fields, oe := p.token(r)
	if oe != nil {
		fields = map[string]any{"error": oe.code, "error_description": oe.description}
	}
	status := http.StatusOK
	if oe != nil {
		status = oe.status
	}
	if p.settings.format == TokenForm {
		v := url.Values{}
		for k, f := range fields {
			v.Set(k, fmt.Sprint(f))
		}
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, v.Encode())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(fields)
}

// token checks a token request and issues tokens, or says what is wrong.
func (p *Provider) token(r *http.Request) (map[string]any, *oauthError) {
	if err := p.authenticate(r); err != nil {
		return nil, &oauthError{http.StatusUnauthorized, "invalid_client", err.Error()}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	bad := func(code, description string) (map[string]any, *oauthError) {
		return nil, &oauthError{p.settings.errorStatus, code, description}
	}
	var g *grant
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		code := r.PostForm.Get("code")
		g = p.codes[code]
		switch {
		case g == nil:
			return bad("invalid_grant", "the authorization code is unknown or expired")
		case g.used:
			// RFC 6749 section 4.1.2: a code used twice revokes what it gave.
			for _, tok := range g.tokens {
				delete(p.access, tok)
				delete(p.refresh, tok)
			}
			return bad("invalid_grant", "the authorization code was already used")
		}
		g.used = true
		if r.PostForm.Get("redirect_uri") != g.redirectURI {
			return bad("invalid_grant", "redirect_uri is not the one of the authorization request")
		}
		if err := checkVerifier(g, r.PostForm.Get("code_verifier")); err != nil {
			return bad("invalid_grant", err.Error())
		}
	case "refresh_token":
		tok := r.PostForm.Get("refresh_token")
		if g = p.refresh[tok]; g == nil {
			return bad("invalid_grant", "the refresh token is unknown, expired or revoked")
		}
		delete(p.refresh, tok) // rotated
	case "":
		return bad("invalid_request", "grant_type is missing")
	default:
		return bad("unsupported_grant_type", "this provider issues tokens for authorization_code and refresh_token")
	}
	access := p.secret("access")
	p.access[access] = g
	g.tokens = append(g.tokens, access)
	fields := map[string]any{"access_token": access, "token_type": "bearer", "expires_in": 3600}
	scope := g.scope
	if p.settings.scope != nil {
		scope = *p.settings.scope
	}
	if scope != "" {
		fields["scope"] = scope
	}
	if p.settings.refreshTokens {
		refresh := p.secret("refresh")
		p.refresh[refresh] = g
		g.tokens = append(g.tokens, refresh)
		fields["refresh_token"] = refresh
	}
	return fields, nil
}

// clientAuthOf says how a token request authenticates its client.
func clientAuthOf(r *http.Request) ClientAuthMethod {
	if _, _, basic := r.BasicAuth(); basic {
		return ClientSecretBasic
	}
	if r.PostForm.Has("client_secret") {
		return ClientSecretPost
	}
	return ClientAuthNone
}

// authenticate accepts client_secret_basic and client_secret_post (and client_id
// alone for a public client).
func (p *Provider) authenticate(r *http.Request) error {
	if want := p.settings.clientAuth; want != "" {
		if got := clientAuthOf(r); got != want {
			return fmt.Errorf("this client must authenticate with %s, not %s", want, got)
		}
	}
	id, secret, basic := r.BasicAuth()
	if basic {
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		if err := errors.Join(err1, err2); err != nil {
			return fmt.Errorf("the Basic credentials are not form-encoded: %v", err)
		}
		if r.PostForm.Has("client_secret") {
			return errors.New("the client authenticated with two methods at once")
		}
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	switch {
	case id != p.settings.clientID:
		return fmt.Errorf("unknown client %q", id)
	case p.settings.clientSecret == "":
		return nil
	case subtle.ConstantTimeCompare([]byte(secret), []byte(p.settings.clientSecret)) != 1:
		return errors.New("wrong client secret")
	}
	return nil
}

// checkVerifier checks a PKCE code_verifier against the grant's challenge.
func checkVerifier(g *grant, verifier string) error {
	switch {
	case g.challenge == "" && verifier != "":
		return errors.New("code_verifier was sent, but the authorization request had no code_challenge")
	case g.challenge == "":
		return nil
	case verifier == "":
		return errors.New("code_verifier is missing")
	}
	want := verifier
	if g.challengeMethod == "S256" {
		sum := sha256.Sum256([]byte(verifier))
		want = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	if subtle.ConstantTimeCompare([]byte(want), []byte(g.challenge)) != 1 {
		return errors.New("code_verifier does not match the code_challenge")
	}
	return nil
}

func (p *Provider) serveResource(w http.ResponseWriter, r *http.Request, e Endpoint) {
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	p.mu.Lock()
	_, valid := p.access[token]
	body := p.profile
	resource := ""
	if e == ResourceEndpoint {
		body, resource = p.resources[r.URL.Path], r.URL.Path
	}
	if p.unverified && resource == p.settings.verifiedResource {
		body = setFalse(body, p.settings.verifiedField)
	}
	p.mu.Unlock()
	if !strings.EqualFold(scheme, "bearer") || !valid {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="the access token is missing, unknown or revoked"`)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"error":"invalid_token"}`)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = io.WriteString(w, body)
}

// setFalse returns doc (JSON) with the value at path set to false, creating the
// objects on the way when they are missing; doc unchanged when path crosses
// something else.
func setFalse(doc, path string) string {
	d := json.NewDecoder(strings.NewReader(doc))
	d.UseNumber()
	var root any
	if d.Decode(&root) != nil {
		return doc
	}
	segs := strings.Split(strings.ReplaceAll(strings.ReplaceAll(path, "]", ""), "[", "."), ".")
	segs = slicesDeleteEmpty(segs)
	if len(segs) == 0 {
		return doc
	}
	var set func(node any, segs []string) (any, bool)
	set = func(node any, segs []string) (any, bool) {
		last := len(segs) == 1
		switch n := node.(type) {
		case map[string]any:
			if last {
				n[segs[0]] = false
				return n, true
			}
			child, ok := n[segs[0]]
			if !ok || child == nil {
				child = map[string]any{}
			}
			v, ok := set(child, segs[1:])
			if ok {
				n[segs[0]] = v
			}
			return n, ok
		case []any:
			i, err := strconv.Atoi(segs[0])
			if err != nil || i < 0 || i >= len(n) {
				return n, false
			}
			if last {
				n[i] = false
				return n, true
			}
			v, ok := set(n[i], segs[1:])
			if ok {
				n[i] = v
			}
			return n, ok
		}
		return node, false
	}
	root, ok := set(root, segs)
	if !ok {
		return doc
	}
	out, err := json.Marshal(root)
	if err != nil {
		return doc
	}
	return string(out)
}

func slicesDeleteEmpty(segs []string) []string {
	out := segs[:0]
	for _, s := range segs {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
