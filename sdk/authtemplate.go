package sdk

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"
)

// AuthorizationTemplater is implemented by connectors that can say, per
// configuration, how their authorization URL is made. The host then builds the
// URL and the session itself with AuthorizationTemplate.Build, without a call to
// the plugin; the session still comes back to UserInfo, which checks it as always.
//
// A connector that implements it must return from AuthorizationURI exactly what
// Build returns for the same template (the simplest way: AuthorizationURI calls
// Build; test it with connectortest.CheckAuthorizationTemplate).
type AuthorizationTemplater[C any] interface {
	// AuthorizationTemplate returns the template of cfg's authorization URLs, or
	// nil when a template cannot express them (the host then calls AuthorizationURI).
	AuthorizationTemplate(cfg C) *AuthorizationTemplate
}

// CurrentAuthorizationTemplater is implemented by connectors whose template is
// known only once they serve: one whose authorization endpoint comes from an
// OpenID provider's discovery document, say. After each AuthorizationURI the
// SDK asks for the template that URL was made with and how long it holds (the
// document's cache lifetime), and hands both to the host, which builds the next
// URLs itself until then (an hour at most), and then asks again.
//
// CurrentAuthorizationTemplate must not do I/O: it reports what the connector
// already knows. It returns nil, or a zero duration, when it knows nothing it
// can vouch for; the host then keeps asking AuthorizationURI. As for
// AuthorizationTemplater, AuthorizationURI must return what Build returns for
// the template.
type CurrentAuthorizationTemplater[C any] interface {
	CurrentAuthorizationTemplate(cfg C) (*AuthorizationTemplate, time.Duration)
}

// MaxTemplateValidity bounds how long the host builds from a template a
// connector reported with CurrentAuthorizationTemplate before it asks again.
const MaxTemplateValidity = time.Hour

// AuthorizationTemplate describes an authorization URL: an endpoint, fixed
// parameters, which parameters carry the per-request values, and which session
// keys keep them for the callback.
type AuthorizationTemplate struct {
	// Endpoint is the authorization endpoint, an absolute http(s) URL; its own
	// query parameters are kept, under the ones below.
	Endpoint string
	// Params are fixed parameters (client_id, response_type, custom ones).
	Params map[string]string
	// StateParam and RedirectURIParam name the parameters carrying the request's
	// state and redirect URI; both are required.
	StateParam       string
	RedirectURIParam string
	// ScopeParam names the scope parameter; empty leaves the scope out.
	ScopeParam string
	// Scope is sent when the request asks for none.
	Scope string
	// RequiredScopes are put in front of a requested scope that lacks them; the
	// requested scope is then split on spaces and '+' and joined with spaces.
	RequiredScopes []string
	// NonceParam, when set, carries a fresh random nonce.
	NonceParam string
	// PKCE adds a fresh verifier's S256 challenge (code_challenge and
	// code_challenge_method).
	PKCE bool
	// Session says what the session keeps.
	Session SessionTemplate
}

// SessionTemplate names the session keys of a templated authorization. An empty
// key leaves that value out of the session.
type SessionTemplate struct {
	State        string
	RedirectURI  string
	CodeVerifier string
	Nonce        string
	// Fixed entries are kept as they are (an issuer the callback is checked against).
	Fixed map[string]string
}

// Limits on a template, so a plugin cannot hand the host an unbounded one: the
// host builds a URL and a session from it at every sign-in, without asking the
// plugin.
const (
	maxTemplateEntries = 64
	maxTemplateText    = 4096
	// maxTemplateName bounds the names of the per-request parameters and the
	// session's keys.
	maxTemplateName = 256
	// maxTemplateTotal bounds everything the template writes into a URL and a
	// session, together.
	maxTemplateTotal = 16 << 10
)

// pkceParams are set by Build when PKCE is on; no fixed entry may name them,
// with PKCE on or off: a pinned challenge binds every flow to one verifier.
var pkceParams = []string{"code_challenge", "code_challenge_method"}

// reservedParams are never fixed: a pinned nonce would be every flow's.
var reservedParams = append([]string{"nonce"}, pkceParams...)

// Check reports the first thing that keeps t from building a sound URL and
// session, naming the field.
func (t *AuthorizationTemplate) Check() error {
	u, err := url.Parse(t.Endpoint)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "":
		return fmt.Errorf("endpoint %q is not an absolute URL", t.Endpoint)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("endpoint %q is not an http(s) URL", t.Endpoint)
	case u.Fragment != "":
		return fmt.Errorf("endpoint %q has a fragment", t.Endpoint)
	case len(t.Endpoint) > maxTemplateText:
		return fmt.Errorf("endpoint is longer than %d bytes", maxTemplateText)
	case t.StateParam == "":
		return fmt.Errorf("stateParam is required: a flow's state must reach the provider")
	case t.RedirectURIParam == "":
		return fmt.Errorf("redirectUriParam is required")
	case t.Session.State == "":
		return fmt.Errorf("session.state is required: the callback's state is checked against it")
	case t.PKCE && t.Session.CodeVerifier == "":
		return fmt.Errorf("session.codeVerifier is required with PKCE")
	case t.NonceParam != "" && t.Session.Nonce == "":
		return fmt.Errorf("session.nonce is required with a nonce")
	case len(t.Params)+len(t.Session.Fixed)+len(t.RequiredScopes) > maxTemplateEntries:
		return fmt.Errorf("has more than %d parameters, session entries and scopes", maxTemplateEntries)
	case t.size() > maxTemplateTotal:
		return fmt.Errorf("is larger than %d bytes in all", maxTemplateTotal)
	}
	for _, n := range [][2]string{
		{t.StateParam, "stateParam"}, {t.RedirectURIParam, "redirectUriParam"}, {t.ScopeParam, "scopeParam"}, {t.NonceParam, "nonceParam"},
		{t.Session.State, "session.state"}, {t.Session.RedirectURI, "session.redirectUri"},
		{t.Session.CodeVerifier, "session.codeVerifier"}, {t.Session.Nonce, "session.nonce"},
	} {
		if len(n[0]) > maxTemplateName {
			return fmt.Errorf("%s is longer than %d bytes", n[1], maxTemplateName)
		}
	}
	// Per-request parameters never collide with each other nor with a fixed one:
	// a fixed "state" would bind every flow to one value.
	perRequest := map[string]string{t.StateParam: "stateParam"}
	for _, p := range [][2]string{{t.RedirectURIParam, "redirectUriParam"}, {t.ScopeParam, "scopeParam"}, {t.NonceParam, "nonceParam"}} {
		if err := claim(perRequest, p[0], p[1]); err != nil {
			return err
		}
	}
	if t.PKCE {
		for _, p := range pkceParams {
			if err := claim(perRequest, p, "pkce"); err != nil {
				return err
			}
		}
	}
	for _, p := range reservedParams {
		if _, fixed := t.Params[p]; fixed {
			return fmt.Errorf("params: %q is made per sign-in, never fixed", p)
		}
	}
	for k, v := range t.Params {
		if k == "" || len(k)+len(v) > maxTemplateText {
			return fmt.Errorf("params: %q is empty or too long", k)
		}
		if owner, ok := perRequest[k]; ok {
			return fmt.Errorf("params: %q is the parameter of %s", k, owner)
		}
	}
	if len(t.Scope) > maxTemplateText {
		return fmt.Errorf("scope is longer than %d bytes", maxTemplateText)
	}
	for _, s := range t.RequiredScopes {
		if s == "" || strings.ContainsAny(s, " +") || len(s) > maxTemplateText {
			return fmt.Errorf("requiredScopes: %q is not one scope value", s)
		}
	}
	keys := map[string]string{t.Session.State: "session.state"}
	for _, k := range [][2]string{{t.Session.RedirectURI, "session.redirectUri"}, {t.Session.CodeVerifier, "session.codeVerifier"}, {t.Session.Nonce, "session.nonce"}} {
		if err := claim(keys, k[0], k[1]); err != nil {
			return err
		}
	}
	for k, v := range t.Session.Fixed {
		if k == "" || len(k)+len(v) > maxTemplateText {
			return fmt.Errorf("session.fixed: %q is empty or too long", k)
		}
		if owner, ok := keys[k]; ok {
			return fmt.Errorf("session.fixed: %q is the key of %s", k, owner)
		}
	}
	return nil
}

// size is what t writes into URLs and sessions, in bytes.
func (t *AuthorizationTemplate) size() int {
	n := len(t.Endpoint) + len(t.Scope) + len(t.StateParam) + len(t.RedirectURIParam) + len(t.ScopeParam) + len(t.NonceParam) +
		len(t.Session.State) + len(t.Session.RedirectURI) + len(t.Session.CodeVerifier) + len(t.Session.Nonce)
	for k, v := range t.Params {
		n += len(k) + len(v)
	}
	for k, v := range t.Session.Fixed {
		n += len(k) + len(v)
	}
	for _, s := range t.RequiredScopes {
		n += len(s)
	}
	return n
}

// claim records name as field's, unless it is empty; a name claimed twice is an error.
func claim(seen map[string]string, name, field string) error {
	if name == "" {
		return nil
	}
	if owner, ok := seen[name]; ok {
		return fmt.Errorf("%s %q is also %s", field, name, owner)
	}
	seen[name] = field
	return nil
}

// Build makes the authorization URL and session of one sign-in. random supplies
// the PKCE verifier and the nonce (crypto/rand.Reader when nil; tests pass a
// fixed one). The URL's parameters are the endpoint's own, then Params, then the
// per-request ones, each replacing any of the same name; they are encoded sorted
// by name, so the same inputs give the same URL byte for byte.
func (t *AuthorizationTemplate) Build(req AuthorizationRequest, random io.Reader) (*Authorization, error) {
	if t == nil {
		// A connector's template method returns nil for a configuration it
		// cannot express: an error, not a panic in the plugin.
		return nil, Errorf(CodeInvalidConfig, "no authorization template: the connector declared none for this configuration")
	}
	if err := req.Check(); err != nil {
		return nil, err
	}
	if random == nil {
		random = rand.Reader
	}
	u, err := url.Parse(t.Endpoint)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return nil, Errorf(CodeInvalidConfig, "the authorization endpoint %q is not an absolute URL", t.Endpoint)
	}
	q := u.Query()
	for k, v := range t.Params {
		q.Set(k, v)
	}
	session := make(Session, len(t.Session.Fixed)+4)
	for k, v := range t.Session.Fixed {
		session[k] = v
	}
	q.Set(t.StateParam, req.State)
	q.Set(t.RedirectURIParam, req.RedirectURI)
	setKey(session, t.Session.State, req.State)
	setKey(session, t.Session.RedirectURI, req.RedirectURI)
	if scope := t.scopeFor(req.Scope); t.ScopeParam != "" && scope != "" {
		q.Set(t.ScopeParam, scope)
	}
	if t.NonceParam != "" {
		nonce, err := randomToken(random)
		if err != nil {
			return nil, err
		}
		q.Set(t.NonceParam, nonce)
		setKey(session, t.Session.Nonce, nonce)
	}
	if t.PKCE {
		verifier, err := randomToken(random)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256([]byte(verifier))
		q.Set("code_challenge", base64.RawURLEncoding.EncodeToString(sum[:]))
		q.Set("code_challenge_method", "S256")
		setKey(session, t.Session.CodeVerifier, verifier)
	}
	u.RawQuery = q.Encode()
	return &Authorization{RedirectTo: u.String(), Session: session}, nil
}

// scopeFor is the scope of one sign-in: the requested one (with the required
// values in front) or the template's.
func (t *AuthorizationTemplate) scopeFor(requested string) string {
	if requested == "" {
		return t.Scope
	}
	if len(t.RequiredScopes) == 0 {
		return requested
	}
	tokens := strings.FieldsFunc(requested, func(r rune) bool { return r == ' ' || r == '+' })
	var missing []string
	for _, s := range t.RequiredScopes {
		if !contains(tokens, s) && !contains(missing, s) {
			missing = append(missing, s)
		}
	}
	return strings.Join(append(missing, tokens...), " ")
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func setKey(s Session, key, value string) {
	if key != "" {
		s[key] = value
	}
}

// randomToken is 32 random bytes, URL-safe: a PKCE verifier of RFC 7636's
// recommended length, or a nonce.
func randomToken(random io.Reader) (string, error) {
	b := make([]byte, 32)
	if _, err := io.ReadFull(random, b); err != nil {
		return "", Errorf(CodeGeneral, "no randomness for the authorization: %v", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Check refuses a request no authorization URL can be built from: a redirect URI
// that is not absolute, or a missing state.
func (req AuthorizationRequest) Check() error {
	if u, err := url.Parse(req.RedirectURI); err != nil || !u.IsAbs() {
		return Errorf(CodeInvalidRequestParameters, "the redirect URI %q is not an absolute URL", req.RedirectURI)
	}
	if req.State == "" {
		return Errorf(CodeInvalidRequestParameters, "the request has no state")
	}
	return nil
}
