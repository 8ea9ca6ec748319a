package oidcprovider

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/idplug/idplug/internal/printable"
	"github.com/idplug/idplug/internal/ratelimit"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// discovery is the library's document, narrowed to what this provider does,
// with RFC 9207's flag (no field of the library's type holds it).
type discovery struct {
	*oidc.DiscoveryConfiguration
	IssParameterSupported bool `json:"authorization_response_iss_parameter_supported"`
}

func (s *server) Discovery(ctx context.Context, r *op.Request[struct{}]) (*op.Response, error) {
	resp, err := s.LegacyServer.Discovery(ctx, r)
	if err != nil {
		return nil, err
	}
	d, ok := resp.Data.(*oidc.DiscoveryConfiguration)
	if !ok {
		return resp, nil
	}
	d.ResponseTypesSupported = []string{string(oidc.ResponseTypeCode)}
	d.ResponseModesSupported = []string{string(oidc.ResponseModeQuery)}
	d.GrantTypesSupported = []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
	d.TokenEndpointAuthMethodsSupported = []oidc.AuthMethod{oidc.AuthMethodBasic, oidc.AuthMethodPost, oidc.AuthMethodPrivateKeyJWT, oidc.AuthMethodNone}
	d.TokenEndpointAuthSigningAlgValuesSupported = []string{"RS256", "ES256"}
	d.RevocationEndpointAuthMethodsSupported = d.TokenEndpointAuthMethodsSupported
	d.RevocationEndpointAuthSigningAlgValuesSupported = d.TokenEndpointAuthSigningAlgValuesSupported
	d.CodeChallengeMethodsSupported = []oidc.CodeChallengeMethod{oidc.CodeChallengeMethodS256}
	d.IntrospectionEndpoint = ""
	d.IntrospectionEndpointAuthMethodsSupported = nil
	d.IntrospectionEndpointAuthSigningAlgValuesSupported = nil
	d.RequestParameterSupported = false
	resp.Data = discovery{DiscoveryConfiguration: d, IssParameterSupported: true}
	// Relying parties cache the document; an hour of it is safe, the keys
	// (cached for less) carry what changes.
	resp.Header.Set("Cache-Control", "public, max-age=3600")
	return resp, nil
}

// Keys: a relying party that caches the key set still learns a new key well
// before it signs (it is published as the next key first).
func (s *server) Keys(ctx context.Context, r *op.Request[struct{}]) (*op.Response, error) {
	resp, err := s.LegacyServer.Keys(ctx, r)
	if err == nil {
		resp.Header.Set("Cache-Control", "public, max-age=300")
	}
	return resp, err
}

// postOnly: credentials, codes and tokens travel in POST bodies or headers,
// never in URLs that logs and browser histories keep (the library would read
// a query too).
func (p *Provider) postOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Every answer of the token endpoint, refusals too, is not to be
		// kept by a cache on the way (RFC 6749 5.1 and 5.2); nor is an
		// authorization answer (a code in its Location, from a browser's
		// single sign-on) or a userinfo answer (the person's claims).
		switch r.URL.Path {
		case tokenPath, "/authorize", "/userinfo", "/revoke":
			w.Header().Set("Cache-Control", "no-store")
			w.Header().Set("Pragma", "no-cache")
		}
		if (r.URL.Path == tokenPath || r.URL.Path == "/revoke") && (r.Method != http.MethodPost || r.URL.RawQuery != "") {
			w.Header().Set("Allow", http.MethodPost)
			writeOAuthError(w, http.StatusMethodNotAllowed, "invalid_request", "use POST with a form body")
			return
		}
		// An access token in the userinfo URL (RFC 6750 2.3, which says not
		// to) would sit in the logs of every proxy on the way.
		if r.URL.Path == "/userinfo" && r.URL.Query().Has("access_token") {
			writeOAuthError(w, http.StatusBadRequest, "invalid_request", "send the access token in the Authorization header (RFC 6750 2.1), not in the URL")
			return
		}
		// RFC 6750 2: one way only; which of two tokens counts would be a guess.
		if r.URL.Path == "/userinfo" && r.Header.Get("Authorization") != "" && r.Method == http.MethodPost &&
			r.ParseForm() == nil && r.PostForm.Has("access_token") {
			writeOAuthError(w, http.StatusBadRequest, "invalid_request", "send the access token one way: in the Authorization header or in the form, not both (RFC 6750 2)")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Failed client authentications at the token and revocation endpoints, per
// client address: past maxClientFailures in a window the address gets 429,
// before its secret is even looked at. Not per client id: anyone can send any
// client id, and a lock on the id would let them shut a real app out (client
// secrets are 32 bytes or more: there is nothing to guess from many addresses).
const (
	maxClientFailures   = 10
	clientFailureWindow = time.Minute
	maxTrackedClients   = 4096
)

func newTokenLimiter() *ratelimit.Failures {
	return ratelimit.New(maxClientFailures, clientFailureWindow, maxTrackedClients)
}

// KeepLimits carries what old counted (failed client authentications and
// authorization requests, per address) over to p, the provider a reload
// built, before p serves: each reload had given every address a fresh
// budget of guesses at client secrets.
func (p *Provider) KeepLimits(old *Provider) {
	if old != nil {
		p.limiter, p.authorizeLimiter = old.limiter, old.authorizeLimiter
	}
}

func (p *Provider) limitTokenRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != tokenPath && r.URL.Path != "/revoke" {
			next.ServeHTTP(w, r)
			return
		}
		if err := r.ParseForm(); err != nil { // the body is capped (capBodies)
			writeOAuthError(w, http.StatusBadRequest, "invalid_request", "the form cannot be read (at most 64 KiB)")
			return
		}
		addr := ratelimit.ClientAddr(r.RemoteAddr)
		if wait, blocked := p.limiter.Blocked(addr); blocked {
			p.event("throttled")
			w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
			writeOAuthError(w, http.StatusTooManyRequests, "slow_down", "too many failed client authentications; try again later")
			return
		}
		rec := &statusRecorder{ResponseWriter: w}
		if r.Header.Get("Authorization") != "" {
			rec.challenge = `Basic realm="` + p.opts.Config.Issuer + `"`
		}
		if problem := headerCredentialsProblem(r); problem != "" {
			writeOAuthError(rec, http.StatusUnauthorized, "invalid_client", problem)
			p.limiter.Fail(addr)
			p.event("refused_client")
			return
		}
		next.ServeHTTP(rec, r)
		if rec.status == http.StatusUnauthorized || rec.invalidClient {
			p.limiter.Fail(addr)
			p.event("refused_client")
		}
	})
}

// Authorization requests per client address: a request no browser sign-in
// answers at once is kept in the store for session_ttl (up to some 5 KB with
// its state, nonce, scope and redirect URI at their bounds), so anyone who
// can reach the provider could otherwise fill the database. A person signing
// in sends a few a minute; behind a reverse proxy, list it in
// http.trusted_proxies, or every client shares its address.
const (
	maxAuthorizeRequests = 300
	authorizeWindow      = time.Minute
)

func (p *Provider) limitAuthorizeRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/authorize" {
			next.ServeHTTP(w, r)
			return
		}
		addr := ratelimit.ClientAddr(r.RemoteAddr)
		if isLoopbackPeer(r.RemoteAddr) {
			// This machine: a proxy beside idplug that trusted_proxies does
			// not name (every client would share its address), or a load test.
			next.ServeHTTP(w, r)
			return
		}
		if wait, blocked := p.authorizeLimiter.Blocked(addr); blocked {
			p.event("throttled")
			w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
			writeOAuthError(w, http.StatusTooManyRequests, "temporarily_unavailable",
				"too many authorization requests from this address; try again later")
			return
		}
		p.authorizeLimiter.Fail(addr) // counted, not failed: the limiter's word
		next.ServeHTTP(w, r)
	})
}

// isLoopbackPeer says whether a request's peer address ("ip:port", or an
// address alone) is this machine's loopback.
func isLoopbackPeer(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	return isLoopback(host)
}

// statusRecorder notes whether a response refused the client, and answers a
// refused Authorization header with its challenge (RFC 6749 5.2).
type statusRecorder struct {
	http.ResponseWriter
	status        int
	invalidClient bool
	challenge     string
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	if code == http.StatusUnauthorized && s.challenge != "" {
		s.Header().Set("WWW-Authenticate", s.challenge)
	}
	if code == http.StatusServiceUnavailable {
		s.Header().Set("Retry-After", "1") // the store: as /v1 says it
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == http.StatusBadRequest && strings.Contains(string(b), `"invalid_client"`) {
		s.invalidClient = true
	}
	return s.ResponseWriter.Write(b)
}

// bearerChallenge answers a refused userinfo request with RFC 6750 3's
// challenge: the scheme, and invalid_token when a token was sent.
func (p *Provider) bearerChallenge(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/userinfo" {
			next.ServeHTTP(w, r)
			return
		}
		challenge := `Bearer realm="` + p.opts.Config.Issuer + `"`
		// The form is capped (capBodies); the library reads it parsed.
		sent := r.Header.Get("Authorization") != "" ||
			(r.Method == http.MethodPost && r.ParseForm() == nil && r.PostForm.Get("access_token") != "")
		if sent {
			challenge += `, error="invalid_token"`
		}
		next.ServeHTTP(&statusRecorder{ResponseWriter: w, challenge: challenge}, r)
	})
}

// issInAuthorizationErrors adds iss (RFC 9207) to the error redirects the
// library makes itself at the authorization endpoint: an app that talks to
// several providers checks it before it trusts the answer.
func (p *Provider) issInAuthorizationErrors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/authorize" {
			next.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(&issWriter{ResponseWriter: w, issuer: p.opts.Config.Issuer, login: p.link(loginPath)}, r)
	})
}

type issWriter struct {
	http.ResponseWriter
	issuer, login string
}

func (w *issWriter) WriteHeader(code int) {
	if code == http.StatusFound || code == http.StatusSeeOther {
		loc := w.Header().Get("Location")
		if u, err := url.Parse(loc); err == nil && loc != "" && !strings.HasPrefix(loc, w.login) {
			// iss goes where the answer's other parameters are: the
			// fragment, for an error to a request that asked for it.
			if f, err := url.ParseQuery(u.Fragment); err == nil && f.Has("error") {
				if !f.Has("iss") {
					f.Set("iss", w.issuer)
					u.Fragment, u.RawFragment = "", ""
					w.Header().Set("Location", u.String()+"#"+f.Encode())
				}
			} else if q := u.Query(); !q.Has("iss") {
				q.Set("iss", w.issuer)
				u.RawQuery = q.Encode()
				w.Header().Set("Location", u.String())
			}
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func writeOAuthError(w http.ResponseWriter, status int, code, description string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	// Encoded, not pasted: a description may name what the client sent.
	body, _ := json.Marshal(struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}{code, description})
	_, _ = w.Write(body)
}

// maxAgeParam reads max_age before the library does. Its form decoder answers
// a max_age that is not a whole number of seconds with a bare 400 ("error
// decoding form"), on idplug's page, never at the app's redirect URI and
// without saying which parameter. A malformed one is taken out of the form
// and noted in the request's context, so that Authorize, once the client and
// the redirect URI are checked, tells the app (invalid_request, naming
// max_age). Digits too many for the decoder ask for no fresh sign-in, as any
// max_age past a century does.
func (p *Provider) maxAgeParam(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := r.Form.Get("max_age") // the form is parsed: noRepeatedParameters
		if r.URL.Path != "/authorize" || v == "" {
			next.ServeHTTP(w, r)
			return
		}
		if _, err := strconv.ParseUint(v, 10, 64); err != nil {
			if strings.Trim(v, "0123456789") == "" {
				r.Form.Set("max_age", strconv.Itoa(maxMaxAge))
			} else {
				r.Form.Del("max_age")
				r = r.WithContext(context.WithValue(r.Context(), badMaxAgeKey{}, v))
			}
		}
		next.ServeHTTP(w, r)
	})
}

// badMaxAgeKey holds, in a request's context, a max_age that is no number.
type badMaxAgeKey struct{}

// badMaxAge is the error for the malformed max_age maxAgeParam took out of
// the request, if any.
func badMaxAge(ctx context.Context) error {
	v, ok := ctx.Value(badMaxAgeKey{}).(string)
	if !ok {
		return nil
	}
	return oidc.ErrInvalidRequest().WithDescription("max_age must be a whole number of seconds, not %q", printable.Cut(v, maxShownParameter))
}

// maxShownParameter bounds a parameter's name in an error.
const maxShownParameter = 64

// noRepeatedParameters refuses a request that gives a parameter more than
// once (RFC 6749 3.1), in its query, its form or both: the library reads the
// last copy of some (redirect_uri) and the first of others (grant_type), so a
// gateway in front may have checked another copy than the one used.
func (p *Provider) noRepeatedParameters(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			writeOAuthError(w, http.StatusBadRequest, "invalid_request", "the request's parameters cannot be read")
			return
		}
		for name, values := range r.Form {
			if len(values) > 1 {
				writeOAuthError(w, http.StatusBadRequest, "invalid_request",
					printable.Line(printable.Cut(name, maxShownParameter))+" is given more than once")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
