package connectortest

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// serve is the fake provider's HTTP side: it records each request, keeps one a
// hold picks unanswered, floods one a flood answers, waits out a delay set with
// DelayNext, answers with a failure set with FailNext, or hands the request to
// its endpoint.
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
	req := Request{
		Endpoint: endpoint, Method: r.Method, Path: r.URL.Path,
		Query: r.URL.Query(), Form: form, Header: r.Header.Clone(), ClientAuth: auth,
	}
	p.mu.Lock()
	p.requests = append(p.requests, req)
	if h := p.holding(&req); h != nil {
		p.mu.Unlock()
		p.waitOut(r, h)
		return
	}
	if f := p.flooding(endpoint); f != nil {
		p.mu.Unlock()
		p.serveFlood(w, r, f)
		return
	}
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
	case DiscoveryEndpoint:
		p.serveDiscovery(w)
	case JWKSEndpoint:
		p.serveJWKS(w)
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
	if p.openID != nil {
		switch path {
		case discoveryPath:
			return DiscoveryEndpoint
		case jwksPath:
			return JWKSEndpoint
		}
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
	if a.location != "" {
		w.Header().Set("Location", a.location)
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
	g := &grant{redirectURI: q.Get("redirect_uri"), scope: q.Get("scope"), nonce: q.Get("nonce"), authTime: time.Now()}
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
	fields, id, oe := p.token(r)
	if oe == nil && id != nil {
		token, err := id.sign(p)
		if err != nil {
			fields, oe = nil, &oauthError{http.StatusInternalServerError, "server_error", "the ID token could not be signed: " + err.Error()}
		} else {
			fields["id_token"] = token
		}
	}
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

// token checks a token request and issues tokens, or says what is wrong. An ID
// token it leaves to sign once the lock is released.
func (p *Provider) token(r *http.Request) (map[string]any, *pendingIDToken, *oauthError) {
	if err := p.authenticate(r); err != nil {
		return nil, nil, &oauthError{http.StatusUnauthorized, "invalid_client", err.Error()}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	bad := func(code, description string) (map[string]any, *pendingIDToken, *oauthError) {
		return nil, nil, &oauthError{p.settings.errorStatus, code, description}
	}
	var g *grant
	renewed := false // a refresh, whose ID token carries no nonce
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
		renewed = true
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
	var id *pendingIDToken
	if p.wantsIDToken(g.scope) {
		var err error
		if id, err = p.idToken(g, access, renewed); err != nil {
			return nil, nil, &oauthError{http.StatusInternalServerError, "server_error", "the ID token could not be made: " + err.Error()}
		}
	}
	return fields, id, nil
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
	case secret == "" && !basic && !r.PostForm.Has("client_secret"):
		return fmt.Errorf("no secret was sent, and client %q is confidential (for a public client, give the provider WithClient(id, \"\"))", id)
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
	g, valid := p.access[token]
	body := p.profile
	resource := ""
	if e == ResourceEndpoint {
		body, resource = p.resources[r.URL.Path], r.URL.Path
	} else if valid && p.wantsIDToken(g.scope) {
		body = withSubject(body) // OpenID Connect Core 5.3.2: userinfo names its sub
	}
	if p.unverified && resource == p.settings.verifiedResource {
		body = setValue(body, p.settings.verifiedField, p.settings.unverifiedValue())
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

// pathSegments splits a profile path ("data.emails[0].verified") into its
// names and indexes.
func pathSegments(path string) []string {
	return slicesDeleteEmpty(strings.Split(strings.ReplaceAll(strings.ReplaceAll(path, "]", ""), "[", "."), "."))
}

// hasPath says whether doc (JSON) has a value at path, written as setValue
// reads it.
func hasPath(doc, path string) bool {
	var node any
	if json.Unmarshal([]byte(doc), &node) != nil {
		return false
	}
	for _, seg := range pathSegments(path) {
		switch n := node.(type) {
		case map[string]any:
			child, ok := n[seg]
			if !ok {
				return false
			}
			node = child
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(n) {
				return false
			}
			node = n[i]
		default:
			return false
		}
	}
	return true
}

// setValue returns doc (JSON) with the value at path set to v, creating the
// objects on the way when they are missing; doc unchanged when path crosses
// something else.
func setValue(doc, path string, value any) string {
	d := json.NewDecoder(strings.NewReader(doc))
	d.UseNumber()
	var root any
	if d.Decode(&root) != nil {
		return doc
	}
	segs := pathSegments(path)
	if len(segs) == 0 {
		return doc
	}
	var set func(node any, segs []string) (any, bool)
	set = func(node any, segs []string) (any, bool) {
		last := len(segs) == 1
		switch n := node.(type) {
		case map[string]any:
			if last {
				n[segs[0]] = value
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
				n[i] = value
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
