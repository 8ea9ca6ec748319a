package oidcprovider

import (
	"context"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// server is the library's server with the endpoints the provider runs itself.
type server struct {
	*op.LegacyServer
	p *Provider
}

var _ op.ExtendedLegacyServer = (*server)(nil)

// VerifyAuthRequest finds the client, as the library's does, and holds the
// redirect URI to this provider's rules before anything else is checked: the
// library's checks of prompt, the response type and the challenge method
// send their errors to the redirect URI, which it matched, for a native
// client's loopback URI, by its path and query alone. An error here is
// redirect-disabled: it is shown, never sent.
func (s *server) VerifyAuthRequest(ctx context.Context, r *op.Request[oidc.AuthRequest]) (*op.ClientRequest[oidc.AuthRequest], error) {
	cr, err := s.LegacyServer.VerifyAuthRequest(ctx, r)
	if err != nil || r.Data.RedirectURI == "" {
		return cr, err // no redirect URI: the library refuses it, unredirected
	}
	c, ok := cr.Client.(*client)
	if !ok {
		return nil, oidc.ErrServerError().WithDescription("the client is not this provider's")
	}
	if err := checkRedirect(r.Data.RedirectURI); err != nil {
		return nil, err
	}
	if err := checkLoopbackMatch(c, r.Data.RedirectURI); err != nil {
		return nil, err
	}
	return cr, nil
}

// Authorize runs once the library and VerifyAuthRequest checked the client,
// the redirect URI, the response type, prompt and the challenge method. It
// adds what the library leaves to its user: PKCE S256 (required of public
// clients), the openid scope, bounded parameters, hints to one connector, and
// the browser's existing sign-in (SSO), which finishes the request at once
// unless prompt=login or max_age say otherwise.
func (s *server) Authorize(ctx context.Context, r *op.ClientRequest[oidc.AuthRequest]) (*op.Redirect, error) {
	p := s.p
	req := r.Data
	c := r.Client.(*client)
	if err := checkRequest(req, c); err != nil {
		return op.TryErrorRedirect(ctx, req, err, p.op.Encoder(), nil)
	}
	if err := badMaxAge(ctx); err != nil {
		return op.TryErrorRedirect(ctx, req, err, p.op.Encoder(), nil)
	}
	if r.Form.Get("request_uri") != "" {
		return op.TryErrorRedirect(ctx, req, &oidc.Error{ErrorType: requestURINotSupported,
			Description: "request_uri is not supported; send the parameters as they are"}, p.op.Encoder(), nil)
	}
	hintSub, err := op.ValidateAuthReqIDTokenHint(ctx, req.IDTokenHint, p.op.IDTokenHintVerifier(ctx))
	if err != nil {
		return op.TryErrorRedirect(ctx, req, err, p.op.Encoder(), nil)
	}
	hinted, err := p.hintedConnector(r.Request, c)
	if err != nil {
		return op.TryErrorRedirect(ctx, req, err, p.op.Encoder(), nil)
	}
	ar := authRequest{
		ClientID: req.ClientID, RedirectURI: req.RedirectURI, State: req.State, Nonce: req.Nonce,
		Scopes: req.Scopes, ResponseMode: string(req.ResponseMode), Challenge: req.CodeChallenge,
		Connector: hinted, HintSub: hintSub, Confirm: needsConfirmation(c, req.RedirectURI),
		Browser: boundBrowser(ctx),
	}
	// prompt=select_account: the sign-in page, where the person picks the
	// connector (and at it, the account), not this browser's sign-in.
	selectAccount := slices.Contains(req.Prompt, oidc.PromptSelectAccount)
	now := p.opts.Now()
	// A max_age past a century asks nothing any sign-in here fails (and
	// would overflow a Duration, turning into "sign in again").
	if req.MaxAge != nil && *req.MaxAge < maxMaxAge {
		ar.LoginAfter = now.Add(-time.Duration(*req.MaxAge) * time.Second).UnixMilli()
	}
	if slices.Contains(req.Prompt, oidc.PromptLogin) {
		ar.LoginAfter = now.UnixMilli() // a sign-in that starts after this request
	}

	// A browser signed in already finishes here, when its sign-in will do,
	// or on the confirmation page when the app's identity is not assured.
	signedIn := false
	if login, ok := p.opts.Browser.SignedIn(browserRequest(ctx, r.Request)); ok && !selectAccount {
		if why := p.usable(login, ar, c); why == "" {
			signedIn = true
			if !ar.Confirm {
				redirect, err := p.issueCode(ctx, ar, login)
				if err != nil {
					return op.TryErrorRedirect(ctx, req, err, p.op.Encoder(), nil)
				}
				return op.NewRedirect(redirect), nil
			}
		}
	}
	if slices.Contains(req.Prompt, oidc.PromptNone) {
		if signedIn {
			return op.TryErrorRedirect(ctx, req, oidc.ErrInteractionRequired().WithDescription("this app's redirect URI may belong to any app on the device: the person must confirm"), p.op.Encoder(), nil)
		}
		return op.TryErrorRedirect(ctx, req, oidc.ErrLoginRequired().WithDescription("no sign-in in this browser will do for this request"), p.op.Encoder(), nil)
	}
	id := newID()
	if err := p.putRecord(ctx, "authz", id, ar, p.opts.RequestTTL); err != nil {
		return op.TryErrorRedirect(ctx, req, oidcError(err, "the store cannot be reached"), p.op.Encoder(), nil)
	}
	if signedIn {
		return op.NewRedirect(p.finishURL(id)), nil
	}
	return op.NewRedirect(c.LoginURL(id)), nil
}

// needsConfirmation says whether a code for c at redirectURI waits for the
// person's word (RFC 8252 8.6). A public client proves nothing at the token
// endpoint, and a redirect URI on loopback (on any port, RFC 8252 7.3) or with
// a private-use scheme can be held by any app on the device: without a word,
// such an app would get a code for whoever is signed in here just by asking,
// and the tokens with its own PKCE verifier. An https redirect URI off
// loopback, matched exactly, or a confidential client, is the app's own; an
// https one on loopback is matched on any port like the others.
func needsConfirmation(c *client, redirectURI string) bool {
	if !c.cfg.Public {
		return false
	}
	u, err := url.Parse(redirectURI)
	return err != nil || u.Scheme != "https" || isLoopback(u.Hostname())
}

// isLoopback says whether a redirect URI's host is this device's.
func isLoopback(host string) bool {
	if h := strings.ToLower(strings.TrimSuffix(host, ".")); h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// requestURINotSupported is OpenID Connect Core 3.1.2.6's error for a
// request_uri, which the library does not name.
const requestURINotSupported = "request_uri_not_supported"

// checkRequest is the policy the library does not enforce.
func checkRequest(req *oidc.AuthRequest, c *client) error {
	switch {
	case req.RequestParam != "":
		return oidc.ErrRequestNotSupported().WithDescription("request objects are not supported; send the parameters as they are")
	case !slices.Contains(req.Scopes, oidc.ScopeOpenID):
		return oidc.ErrInvalidScope().WithDescription("scope must include openid")
	case req.CodeChallenge == "" && c.cfg.Public:
		return oidc.ErrInvalidRequest().WithDescription("a public client must send a PKCE code_challenge (S256)")
	case req.CodeChallenge != "" && req.CodeChallengeMethod != oidc.CodeChallengeMethodS256:
		return oidc.ErrInvalidRequest().WithDescription("code_challenge_method must be S256")
	case req.CodeChallenge != "" && (len(req.CodeChallenge) != 43 || !isBase64URL(req.CodeChallenge)):
		return oidc.ErrInvalidRequest().WithDescription("code_challenge must be a base64url SHA-256 (43 characters)")
	case req.ResponseMode != "" && req.ResponseMode != oidc.ResponseModeQuery:
		return oidc.ErrInvalidRequest().WithDescription("response_mode must be query")
	case len(req.State) > maxStateLen:
		return oidc.ErrInvalidRequest().WithDescription("state is longer than %d characters", maxStateLen)
	case len(req.Nonce) > maxNonceLen:
		return oidc.ErrInvalidRequest().WithDescription("nonce is longer than %d characters", maxNonceLen)
	case len(strings.Join(req.Scopes, " ")) > maxScopeLen:
		return oidc.ErrInvalidRequest().WithDescription("scope is longer than %d characters", maxScopeLen)
	}
	return nil
}

// checkRedirect refuses what the library's loopback match lets through for a
// native client, which compares only the path and the query: a URI of any
// length, with user information or a fragment.
func checkRedirect(uri string) error {
	if len(uri) > maxRedirectLen {
		return oidc.ErrInvalidRequestRedirectURI().WithDescription("redirect_uri is longer than %d bytes", maxRedirectLen)
	}
	u, err := url.Parse(uri)
	switch {
	case err != nil:
		return oidc.ErrInvalidRequestRedirectURI().WithDescription("redirect_uri is not a URL")
	case u.User != nil:
		return oidc.ErrInvalidRequestRedirectURI().WithDescription("redirect_uri must not carry user information")
	case u.Fragment != "" || strings.Contains(uri, "#"):
		return oidc.ErrInvalidRequestRedirectURI().WithDescription("redirect_uri must not have a fragment")
	}
	return nil
}

// isBase64URL says whether s is written in base64url's alphabet, unpadded
// (RFC 7636 4.2: a challenge no verifier can meet only strands its own flow,
// but it is refused at the door, where the app can be told).
func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// maxMaxAge is a century of seconds: a max_age at or past it is no limit.
const maxMaxAge = 100 * 365 * 24 * 3600

// checkLoopbackMatch holds a redirect URI the library matched on another port
// (RFC 8252 7.3: a native app's loopback URI may name any port) to the rest of
// a registered URI: its scheme, its host as written (localhost is not
// 127.0.0.1, nor ::1, nor 127.0.0.2) and its path and query as written, with
// a port there can be. The library compares the path and the query only.
func checkLoopbackMatch(c *client, uri string) error {
	if slices.Contains(c.cfg.RedirectURIs, uri) {
		return nil
	}
	u, err := url.Parse(uri)
	if err != nil {
		return oidc.ErrInvalidRequestRedirectURI().WithDescription("redirect_uri is not a URL")
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return oidc.ErrInvalidRequestRedirectURI().WithDescription("redirect_uri has no usable port")
		}
	}
	for _, registered := range c.cfg.RedirectURIs {
		r, err := url.Parse(registered)
		if err == nil && r.Scheme == u.Scheme && strings.EqualFold(r.Hostname(), u.Hostname()) &&
			r.EscapedPath() == u.EscapedPath() && r.RawQuery == u.RawQuery && isLoopback(r.Hostname()) {
			return nil
		}
	}
	return oidc.ErrInvalidRequestRedirectURI().WithDescription("redirect_uri is not one registered for this client " +
		"(on loopback, any port is taken, but the scheme, the host, the path and the query are as registered)")
}

// hintedConnector reads a request for one connector: Logto's
// direct_sign_in=social:<target> and Dex's connector_id=<instance id>. A hint
// to a connector the client may not use is refused, never silently widened.
func (p *Provider) hintedConnector(r *op.Request[oidc.AuthRequest], c *client) (string, error) {
	form := r.Form
	if form == nil {
		form = url.Values{}
	}
	var id string
	if v := form.Get("connector_id"); v != "" {
		id = v
	}
	if v := form.Get("direct_sign_in"); v != "" {
		method, target, ok := strings.Cut(v, ":")
		if !ok || method != "social" {
			return "", oidc.ErrInvalidRequest().WithDescription("direct_sign_in must be social:<target>")
		}
		found := ""
		for _, inst := range c.allowed() {
			if t, ok := p.opts.Targets(inst); ok && t == target {
				found = inst
				break
			}
		}
		if found == "" {
			return "", oidc.ErrAccessDenied().WithDescription("this client may not sign in with that connector")
		}
		id = found
	}
	if id == "" {
		return "", nil
	}
	if _, ok := p.opts.Targets(id); !ok || !c.cfg.AllowsConnector(id) {
		return "", oidc.ErrAccessDenied().WithDescription("this client may not sign in with that connector")
	}
	return id, nil
}

// usable says why a browser's sign-in does not do for a request; "" when it does.
func (p *Provider) usable(l Login, ar authRequest, c *client) string {
	switch {
	case !c.cfg.AllowsConnector(l.Instance):
		return "signed in with a connector this client may not use"
	case ar.Connector != "" && ar.Connector != l.Instance:
		return "the request asks for another connector"
	case l.AuthTime.UnixMilli() < ar.LoginAfter:
		return "the sign-in is older than the request allows"
	case p.opts.Now().Sub(l.AuthTime) > p.opts.Config.SSOTTL:
		return "the sign-in is older than sso_ttl"
	case p.opts.Config.GrantTTL > 0 && p.opts.Now().Sub(l.AuthTime) > p.opts.Config.GrantTTL:
		// Its grant would end at once (lapsed): the person signs in again.
		return "the sign-in is older than grant_ttl"
	case ar.HintSub != "":
		if t, ok := p.opts.Targets(l.Instance); !ok || subject(t, l.UserInfo.ID) != ar.HintSub {
			return "the sign-in is another user's than id_token_hint's"
		}
	}
	return ""
}

// allowed lists the instances the client may use, in configuration order.
func (c *client) allowed() []string {
	if len(c.cfg.Connectors) > 0 {
		return c.cfg.Connectors
	}
	return c.p.opts.AllInstances()
}

// browserRequest rebuilds what the browser sent, for its cookies: the
// library's request keeps the headers, not the *http.Request.
func browserRequest(ctx context.Context, r *op.Request[oidc.AuthRequest]) *http.Request {
	hr := (&http.Request{Method: r.Method, URL: r.URL, Header: r.Header}).WithContext(ctx)
	return hr
}
