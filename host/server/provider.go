package server

import (
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"github.com/idplug/idplug/host/accesslog"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/idplug/idplug/host/oidcprovider"
	"github.com/idplug/idplug/host/seal"
	"github.com/idplug/idplug/internal/printable"
	"github.com/idplug/idplug/sdk"
)

// idplug as an OpenID Provider: the provider (host/oidcprovider) answers under
// its issuer's path, and signs browsers in through these routes: the chooser
// is this site's sign-in page, the sign-in is /sign-in/{id}, and the session it
// leaves is the provider's single sign-on.

// mountedProvider is the provider and the path it answers under; swapped whole
// on a reload.
type mountedProvider struct {
	path    string // like /oidc, below the public path
	handler http.Handler
}

type providerSlot = atomic.Pointer[mountedProvider]

// MountProvider serves h under path (the issuer's path below public_url); a nil
// h unmounts. A reload may mount another.
func (s *Server) MountProvider(path string, h http.Handler) {
	if h == nil {
		s.provider.Store(nil)
		return
	}
	s.provider.Store(&mountedProvider{path: strings.TrimSuffix(path, "/"), handler: h})
}

// withProvider sends requests under the issuer's path to the provider.
func (s *Server) withProvider(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m := s.provider.Load()
		if m == nil {
			next.ServeHTTP(w, r)
			return
		}
		rest, ok := strings.CutPrefix(r.URL.Path, m.path)
		if !ok || (rest != "" && rest[0] != '/') {
			next.ServeHTTP(w, r)
			return
		}
		if rest != "" && rest != "/" && path.Clean(rest) != rest {
			// The provider's mux would redirect to the clean path below
			// the site's root, not below the issuer: /oidc//authorize went
			// to /authorize.
			http.NotFound(w, r)
			return
		}
		u := *r.URL
		u.Path, u.RawPath = rest, ""
		r2 := r.WithContext(r.Context())
		r2.URL = &u
		// One route name for the metrics and the access log, whatever the path.
		r.Pattern = m.path + "/*"
		r2.Pattern = r.Pattern
		m.handler.ServeHTTP(w, r2)
	})
}

// Sealer is the current sealer (session_keys), which a reload may replace.
func (s *Server) Sealer() *seal.Sealer { return s.sealer() }

// ProviderBrowser is this server's browser routes as the provider uses them.
func (s *Server) ProviderBrowser() oidcprovider.Browser { return providerBrowser{s} }

type providerBrowser struct{ s *Server }

func (b providerBrowser) SignedIn(r *http.Request) (oidcprovider.Login, bool) {
	sess, ok := b.s.currentUser(r)
	if !ok || sess.AuthTime == 0 || !b.s.markedFor(r, sess) {
		return oidcprovider.Login{}, false
	}
	d, err := b.s.host.Instance(sess.Connector)
	if err != nil {
		return oidcprovider.Login{}, false
	}
	// The session was checked against its connector as it was configured
	// before d was read: a reload in between that maps profiles otherwise
	// would give the grant the new mapping's name with the old one's claims.
	// Checked again after d, the session was mapped as d says (or a later
	// reload makes the grant lapse at its first use).
	if !b.s.connectorServes(sess) {
		return oidcprovider.Login{}, false
	}
	return oidcprovider.Login{Instance: sess.Connector, Target: d.Target, UserInfo: sess.UserInfo,
		Claims: sess.Claims, AuthTime: time.UnixMilli(sess.AuthTime), Mapping: d.Mapping, Source: sess.Source}, true
}

// HasSession: the session cookie, whatever it opens to. Only idplug sets it
// (its name is __Host- over https), so a browser without one has nothing a
// sign-out could end.
func (b providerBrowser) HasSession(r *http.Request) bool {
	_, err := r.Cookie(b.s.cookies.sessionName())
	return err == nil
}

// Bind: the browser's mark is 32 random bytes, kept as long as a request it
// makes may be pending, and the same for every request it makes meanwhile
// (two tabs signing in to two apps keep both). A value idplug could not
// have made is replaced.
func (b providerBrowser) Bind(w http.ResponseWriter, r *http.Request, ttl time.Duration) string {
	mark := b.Binding(r)
	if mark == "" {
		mark = newState()
	}
	http.SetCookie(w, b.s.cookies.browser(mark, ttl))
	return mark
}

func (b providerBrowser) Binding(r *http.Request) string {
	c, err := r.Cookie(b.s.cookies.browserName())
	if err != nil || !isBrowserMark(c.Value) {
		return ""
	}
	return c.Value
}

// markDigest is what a sealed failure keeps of a browser's mark; "" for none.
func markDigest(mark string) string {
	if mark == "" {
		return ""
	}
	return oidcprovider.MarkDigest(mark)
}

// isBrowserMark: 32 bytes in unpadded base64url, as newState makes them.
func isBrowserMark(v string) bool {
	raw, err := base64.RawURLEncoding.DecodeString(v)
	return err == nil && len(raw) == 32
}

func (b providerBrowser) Choose(w http.ResponseWriter, r *http.Request, ids []string, returnTo string) {
	data := b.s.pageData()
	for _, in := range b.s.host.Instances() {
		if slices.Contains(ids, in.ID) {
			data.Connectors = append(data.Connectors, in)
		}
	}
	data.ReturnTo = returnTo
	b.s.renderPage(w, http.StatusOK, data)
}

func (b providerBrowser) SignIn(w http.ResponseWriter, r *http.Request, id, returnTo string) {
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, b.s.link("/sign-in/"+url.PathEscape(id))+"?returnTo="+url.QueryEscape(returnTo), http.StatusFound)
}

// SignOut clears the cookie once the session is revoked (signOut).
func (b providerBrowser) SignOut(w http.ResponseWriter, r *http.Request) error {
	if err := b.s.endUserSession(r); err != nil {
		return err
	}
	http.SetCookie(w, b.s.cookies.clearSession())
	return nil
}

func (b providerBrowser) SignInFailed(r *http.Request, returnTo string) (*oidcprovider.SignInFailure, error) {
	q := r.URL.Query()
	if !q.Has(failedParam) {
		return nil, nil
	}
	var f signInFailure
	if err := b.s.openJSON(signInFailurePurpose, q.Get(failedParam), "the sign-in's failure", &f); err != nil {
		return nil, err
	}
	if f.ReturnTo != returnTo {
		return nil, &sdk.Error{Code: CodeSessionInvalid, Message: "the sign-in's failure belongs to another sign-in request; go back to the app and start again"}
	}
	if subtle.ConstantTimeCompare([]byte(f.Browser), []byte(markDigest(b.Binding(r)))) != 1 {
		return nil, &sdk.Error{Code: CodeSessionInvalid, Message: "the sign-in's failure was made in another browser; go back to the app and start again"}
	}
	return &oidcprovider.SignInFailure{Error: f.Error, Description: f.Description}, nil
}

func (b providerBrowser) Fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, oidcprovider.ErrCrossOrigin) {
		err = &sdk.Error{Code: CodeCrossOrigin, Message: err.Error()}
	}
	b.s.errorPage(w, r, err)
}

func (b providerBrowser) ConfirmSignOut(w http.ResponseWriter, r *http.Request, action string, fields map[string]string) {
	data := b.s.pageData()
	data.ConfirmSignOut = true
	if sess, ok := b.s.currentUser(r); ok {
		data.User = &sess
	}
	data.SignOutAction, data.SignOutFields = action, fields
	data.FormTo = redirectOrigin(fields["post_logout_redirect_uri"])
	b.s.renderPage(w, http.StatusOK, data)
}

func (b providerBrowser) ConfirmApp(w http.ResponseWriter, r *http.Request, action string, fields map[string]string, client, redirectURI string) {
	data := b.s.pageData()
	if sess, ok := b.s.currentUser(r); ok {
		data.User = &sess
	}
	to := redirectTarget(redirectURI)
	data.ConfirmApp = &confirmApp{Client: client, Target: to, Action: action, Fields: fields}
	data.FormTo = to
	b.s.renderPage(w, http.StatusOK, data)
}

// Targets and AllInstances tell the provider about the configured instances.
func Targets(h Instances) func(string) (string, bool) {
	return func(id string) (string, bool) {
		d, err := h.Instance(id)
		if err != nil {
			return "", false
		}
		return d.Target, true
	}
}

// Mappings is the fingerprint of each configured instance's mapping ("" for
// none, or for an id that is not configured: Targets tells those apart).
func Mappings(h Instances) func(string) string {
	return func(id string) string {
		d, err := h.Instance(id)
		if err != nil {
			return ""
		}
		return d.Mapping
	}
}

// AllInstances lists the configured instance ids in configuration order.
func AllInstances(h Instances) func() []string {
	return func() []string {
		all := h.Instances()
		ids := make([]string, len(all))
		for i, in := range all {
			ids[i] = in.ID
		}
		return ids
	}
}

// redirectTarget is redirectOrigin, or for a private-use scheme (a native
// app's com.example.app:/cb) the scheme, as CSP's form-action names it.
func redirectTarget(uri string) string {
	if o := redirectOrigin(uri); o != "" {
		return o
	}
	u, err := url.Parse(uri)
	if err != nil || !privateScheme.MatchString(u.Scheme) || u.Scheme == "javascript" || u.Scheme == "data" {
		return ""
	}
	return u.Scheme + ":"
}

// privateScheme is RFC 3986's scheme, as a native app's redirect URI has it.
var privateScheme = regexp.MustCompile(`^[a-z][a-z0-9+.-]*$`)

// redirectOrigin is the http(s) origin of a registered redirect URI, for a CSP
// source; "" for anything else.
func redirectOrigin(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.ContainsAny(u.Host, ";, '\"") {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// A browser sign-in that an app asked the provider for comes back to the
// provider's finish step whether it signed in or failed, and the app is told
// either way (OpenID Connect Core 3.1.2.6). The failure travels in the way
// back, sealed and made out to that returnTo: a link made up, or the failure
// of a sign-in for another request, ends no request (the provider refuses
// it), as only a sign-in in the browser makes one succeed. A sign-in not
// started by an app fails on this site's page.

// failedParam carries the sealed failure on the way back to the provider.
const failedParam = "failed"

// signInFailureTTL bounds the way back: the browser follows it at once.
const signInFailureTTL = time.Minute

const signInFailurePurpose = "provider-sign-in-failed"

// maxFailureDescription bounds the description a failure carries.
const maxFailureDescription = 512

// signInFailure is a failed sign-in, as the provider's app is told of it.
type signInFailure struct {
	// ReturnTo is the way back it was made for: one request's finish step.
	ReturnTo    string `json:"rt"`
	Error       string `json:"e"`
	Description string `json:"d,omitempty"`
	// Browser is a digest of the browser's mark for the provider's requests
	// (Bind), "" without one: a failure counts only in the browser it was
	// made in. Made elsewhere by someone who had the request's id (their
	// own sign-in at their own callback), it had ended the person's request
	// at the app with their words, once the link was opened in the person's
	// browser.
	Browser string `json:"b,omitempty"`
}

// signInFailed answers a browser sign-in that failed on its way to returnTo:
// back at the provider's finish step, which tells the app, when returnTo is
// one; on this site's page otherwise.
func (s *Server) signInFailed(w http.ResponseWriter, r *http.Request, returnTo string, err error) {
	back, ok := s.failedReturn(r, returnTo, err)
	if !ok {
		s.errorPage(w, r, err)
		return
	}
	e := asError(err)
	s.log.Warn("browser sign-in failed; the app is told", "path", printable.Line(accesslog.Path(r)), "code", e.Code, "message", e.Message)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, back, http.StatusFound)
}

// providerFinish is returnTo parsed when it is the provider's finish step.
func (s *Server) providerFinish(returnTo string) (*url.URL, bool) {
	m := s.provider.Load()
	if m == nil {
		return nil, false
	}
	u, err := url.Parse(returnTo)
	if err != nil || u.Path != s.link(m.path+oidcprovider.FinishPath) || !u.Query().Has("id") {
		return nil, false
	}
	return u, true
}

// failedReturn is returnTo with err sealed for it; false when returnTo is not
// the provider's finish step (or the seal fails: the page then says why).
func (s *Server) failedReturn(r *http.Request, returnTo string, err error) (string, bool) {
	u, ok := s.providerFinish(returnTo)
	if !ok {
		return "", false
	}
	f := signInFailure{ReturnTo: returnTo, Browser: markDigest(providerBrowser{s}.Binding(r))}
	f.Error, f.Description = oauthFailure(err)
	// The way back is a URL: the provider sends no more of it anyway.
	f.Description = printable.Cut(f.Description, maxFailureDescription)
	sealed, serr := s.sealJSON(signInFailurePurpose, f, signInFailureTTL)
	if serr != nil {
		return "", false
	}
	q := u.Query()
	q.Set(failedParam, sealed)
	u.RawQuery = q.Encode()
	return u.String(), true
}

// A sign-in that succeeds goes back to the provider's finish step with a
// mark of who signed in, sealed and made out to that returnTo: the finish
// step reads the browser's session, and with a sign-in for each tab, another
// tab's sign-in (another account, say) may have replaced it meanwhile. The
// app would have been handed that other account; the mark makes the finish
// step refuse it (providerBrowser.SignedIn), and the app starts again.

// signedParam carries the sealed mark on the way back to the provider, and
// through its confirmation page's POST.
const signedParam = oidcprovider.SignedParam

const signInMarkPurpose = "provider-sign-in-done"

// signInMark is who a sign-in for one request's finish step signed in.
type signInMark struct {
	// Request is the provider's request id: the finish step's "id".
	Request   string `json:"r"`
	Connector string `json:"c"`
	ID        string `json:"u"`
}

// signedReturn is returnTo with the mark of the sign-in just made (connector
// id, user id) when returnTo is the provider's finish step; returnTo as it
// is otherwise, or when the seal fails (the finish step then goes by the
// session alone, as before marks).
func (s *Server) signedReturn(returnTo, connector, user string) string {
	u, ok := s.providerFinish(returnTo)
	if !ok {
		return returnTo
	}
	// It lives as long as the request may be pending (session_ttl): the
	// native app's confirmation page carries it until the person answers,
	// which may take longer than the way back does.
	sealed, err := s.sealJSON(signInMarkPurpose, signInMark{Request: u.Query().Get("id"), Connector: connector, ID: user}, s.settings.FlowTTL)
	if err != nil {
		return returnTo
	}
	q := u.Query()
	q.Set(signedParam, sealed)
	u.RawQuery = q.Encode()
	return u.String()
}

// markedFor says whether the mark r carries, if any, names sess as who
// signed in for this finish step: in its query, or in the confirmation's
// POST (read by the finish step before it asks). No mark (a browser signed
// in already) is the session's word alone.
func (s *Server) markedFor(r *http.Request, sess userSession) bool {
	q := r.URL.Query()
	if r.Method == http.MethodPost {
		q = r.PostForm
	}
	if !q.Has(signedParam) {
		return true
	}
	var m signInMark
	if err := s.openJSON(signInMarkPurpose, q.Get(signedParam), "the sign-in's mark", &m); err != nil {
		return false
	}
	// Made out to this request, and naming the session's user.
	return m.Request == q.Get("id") && m.Connector == sess.Connector && m.ID == sess.UserInfo.ID
}

// oauthFailure is the error an app is told of a failed sign-in (RFC 6749
// 4.1.2.1), and its description: access_denied when the person, the
// connector's provider or its mapping said no, in their words (which the
// sign-in page shows too); otherwise temporarily_unavailable for a failure
// that may pass, server_error for any other, whose words (a plugin's, the
// store's) stay in the log.
func oauthFailure(err error) (string, string) {
	e := asError(err)
	if e.Code == sdk.CodeAuthorizationFailed {
		// The provider's own error, when it says the failure is its own.
		switch pe, _ := e.Details["error"].(string); pe {
		case "temporarily_unavailable", "server_error":
			return pe, "the provider could not sign the person in"
		}
		return "access_denied", e.Message
	}
	switch statusFor(e.Code) {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return "temporarily_unavailable", "the sign-in cannot be finished now; try again shortly"
	}
	return "server_error", "the sign-in could not be finished"
}
