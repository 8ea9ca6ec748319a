package oidcprovider

import (
	"context"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/idplug/idplug/host/store"
	"github.com/idplug/idplug/internal/printable"
	"github.com/idplug/idplug/sdk"
	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// The browser's way through a sign-in: /authorize keeps the request and sends
// the browser to the login page, which offers the client's connectors (or goes
// straight to the hinted one); the connector's sign-in comes back to finish,
// which checks the browser's new sign-in against the request and sends the
// code to the app.

// loginPage offers the client's connectors.
func (p *Provider) loginPage(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	ar, err := p.pendingHere(r, id)
	if err != nil {
		p.opts.Browser.Fail(w, r, err)
		return
	}
	c, err := p.client(ar.ClientID)
	if err != nil {
		p.opts.Browser.Fail(w, r, expired())
		return
	}
	back := p.finishURL(id)
	if ar.Connector != "" {
		p.opts.Browser.SignIn(w, r, ar.Connector, back)
		return
	}
	allowed := c.allowed()
	if len(allowed) == 1 {
		p.opts.Browser.SignIn(w, r, allowed[0], back)
		return
	}
	p.opts.Browser.Choose(w, r, allowed, back)
}

// SignedParam is the browser routes' mark, on the way back to the finish step,
// of who signed in for the request (Browser.SignedIn reads it); the finish step
// carries it through its confirmation page.
const SignedParam = "signed"

func (p *Provider) finishURL(id string) string {
	return p.link(finishPath) + "?id=" + url.QueryEscape(id)
}

// finish sends the code to the app once the browser signed in as the request
// needs, and, where the app's identity is not assured, once the person said so
// on the confirmation page, whose POST comes back here (refused cross-site).
// A sign-in that failed (refused by the person, the connector's provider or
// its mapping, or one that does not do for the request) goes to the app as an
// error (OpenID Connect Core 3.1.2.6). The request is spent once a code or an
// error goes to the app; a step that fails before that (an unknown request,
// a browser that did not sign in, a store that does not answer), or the
// confirmation page, leaves it pending until it expires.
func (p *Provider) finish(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id, answer, err := finishParams(r)
	if err != nil {
		p.opts.Browser.Fail(w, r, err)
		return
	}
	ar, err := p.pendingHere(r, id)
	if err != nil {
		p.opts.Browser.Fail(w, r, err)
		return
	}
	c, err := p.client(ar.ClientID)
	if err != nil {
		p.opts.Browser.Fail(w, r, expired())
		return
	}
	// A reload since the request may have taken its redirect URI off the
	// client (its domain lapsed, say): nothing goes there, not even an error.
	if checkLoopbackMatch(c, ar.RedirectURI) != nil {
		p.opts.Browser.Fail(w, r, redirectWithdrawn())
		return
	}
	if answer == "" {
		// The way back from a sign-in that failed carries the browser
		// routes' word of it, sealed for this request: a made-up one, or
		// another request's, ends nothing here.
		failure, err := p.opts.Browser.SignInFailed(r, p.finishURL(id))
		if err != nil {
			p.opts.Browser.Fail(w, r, err)
			return
		}
		if failure != nil {
			p.answerError(w, r, id, ar, failure.Error, failure.Description)
			return
		}
	}
	login, ok := p.opts.Browser.SignedIn(r)
	if !ok {
		p.opts.Browser.Fail(w, r, &sdk.Error{Code: sdk.CodeAuthorizationFailed,
			Message: "this browser did not finish signing in; go back to the app and start again"})
		return
	}
	if why := p.usable(login, ar, c); why != "" {
		p.answerError(w, r, id, ar, string(oidc.AccessDenied), "the sign-in does not do for this app: "+why)
		return
	}
	if ar.Confirm && answer == "" {
		fields := map[string]string{"id": id}
		if mark := r.URL.Query().Get(SignedParam); mark != "" {
			fields[SignedParam] = mark // the answer's POST is checked against it too
		}
		p.opts.Browser.ConfirmApp(w, r, p.link(finishPath), fields, c.cfg.ID, ar.RedirectURI)
		return
	}
	if !p.spend(w, r, id) {
		return
	}
	if answer == "deny" {
		p.event("denied")
		http.Redirect(w, r, p.denied(ar), http.StatusSeeOther)
		return
	}
	redirect, err := p.issueCode(ctx, ar, login)
	if err != nil {
		// Spent: the app hears of it, and may start again.
		errType, description := codeFailure(err)
		http.Redirect(w, r, p.errorURL(ar, errType, description), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, redirect, http.StatusSeeOther)
}

// spend marks request id answered, false (having shown why) when it was
// answered before or the store does not answer. Spent atomically first: two
// finishes of one request at once (a double click, a replayed link) give one
// answer to the app, not two codes, nor a code and an error.
func (p *Provider) spend(w http.ResponseWriter, r *http.Request, id string) bool {
	ctx := r.Context()
	err := p.opts.Store.ConsumeFlow(ctx, storeKey("authz-done", id), p.opts.Now().Add(p.opts.RequestTTL+consumedMargin))
	if errors.Is(err, store.ErrUsed) {
		p.opts.Browser.Fail(w, r, expired())
		return false
	}
	if err != nil {
		p.opts.Browser.Fail(w, r, &sdk.Error{Code: sdk.CodeGeneral, Message: "the store cannot be reached; try again"})
		return false
	}
	// Spent now: its record goes, or expires with RequestTTL if the store
	// does not answer; a retry could only find it spent.
	if err := p.dropRecord(ctx, "authz", id); err != nil {
		p.log.Warn("a finished sign-in request's record stays until it expires", "error", err)
	}
	w.Header().Set("Cache-Control", "no-store")
	return true
}

// answerError spends request id and sends the app errType (RFC 6749 4.1.2.1).
func (p *Provider) answerError(w http.ResponseWriter, r *http.Request, id string, ar authRequest, errType, description string) {
	if !p.spend(w, r, id) {
		return
	}
	http.Redirect(w, r, p.errorURL(ar, errType, description), http.StatusSeeOther)
}

// codeFailure is how the app is told of a code that could not be issued.
func codeFailure(err error) (errType, description string) {
	if errors.Is(err, store.ErrUnavailable) {
		return temporarilyUnavailable, "the store cannot be reached; try again shortly"
	}
	var oe *oidc.Error
	if errors.As(err, &oe) {
		return string(oe.ErrorType), oe.Description
	}
	return string(oidc.ServerError), "the sign-in could not be finished"
}

// temporarilyUnavailable is RFC 6749 4.1.2.1's error for a failure that may
// pass, which the library does not name.
const temporarilyUnavailable = "temporarily_unavailable"

// finishParams reads the request id, and the person's answer on the
// confirmation page ("" on the way back from a sign-in, "allow" or "deny").
// Only the page's own form is read.
func finishParams(r *http.Request) (id, answer string, err error) {
	if r.Method == http.MethodGet {
		return r.URL.Query().Get("id"), "", nil
	}
	if err := readPageForm(r, "the confirmation"); err != nil {
		return "", "", err
	}
	answer = "allow"
	if r.PostForm.Get("deny") != "" {
		answer = "deny"
	}
	return r.PostForm.Get("id"), answer, nil
}

// readPageForm reads the POST of one of the provider's pages into r.PostForm.
// Only the page's own form is read: a multipart body would be parsed into
// memory and temporary files.
func readPageForm(r *http.Request, what string) error {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/x-www-form-urlencoded" {
		return &sdk.Error{Code: sdk.CodeInvalidRequestParameters, Message: what + " must be the page's form"}
	}
	if err := r.ParseForm(); err != nil {
		return &sdk.Error{Code: sdk.CodeInvalidRequestParameters, Message: what + " cannot be read"}
	}
	return nil
}

// denied is the app's redirect URI with access_denied: the person said no.
func (p *Provider) denied(ar authRequest) string {
	return p.errorURL(ar, string(oidc.AccessDenied), "the person did not let this app sign in")
}

// errorURL is the app's redirect URI with an error, its state and iss (RFC
// 9207), in the query: the only response mode checkRequest takes.
func (p *Provider) errorURL(ar authRequest, errType, description string) string {
	u, err := url.Parse(ar.RedirectURI)
	if err != nil {
		return p.opts.PublicPath + "/"
	}
	q := u.Query()
	q.Set("error", errType)
	if d := errorText(description); d != "" {
		q.Set("error_description", d)
	}
	if ar.State != "" {
		q.Set("state", ar.State)
	}
	q.Set("iss", p.opts.Config.Issuer)
	u.RawQuery = q.Encode()
	return u.String()
}

// errorText is description as RFC 6749 4.1.2.1 allows an error_description:
// printable ASCII but " and \, bounded. A connector's words (a mapping's
// allow_reason, a provider's error_description) may hold any character.
func errorText(description string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return '?'
		}
		return r
	}, printable.Cut(description, maxErrorDescription))
}

// maxErrorDescription bounds the error_description an app is sent.
const maxErrorDescription = 300

func (p *Provider) pending(ctx context.Context, id string) (authRequest, error) {
	var ar authRequest
	if err := p.getRecord(ctx, "authz", id, &ar); err != nil {
		if isNotFound(err) {
			return ar, expired()
		}
		return ar, &sdk.Error{Code: sdk.CodeGeneral, Message: "the store cannot be reached; try again"}
	}
	return ar, nil
}

// redirectWithdrawn is shown for a request whose redirect URI the client no
// longer has.
func redirectWithdrawn() error {
	return &sdk.Error{Code: sdk.CodeAuthorizationFailed,
		Message: "this app's address for sign-ins was withdrawn since the request was made; go back to the app and start again"}
}

func expired() error {
	return &sdk.Error{Code: sdk.CodeAuthorizationFailed,
		Message: "this sign-in request is unknown, used or expired; go back to the app and start again"}
}

// issueCode keeps a code for the signed-in user and returns the app's redirect
// with it: code, state and iss (RFC 9207, so the app can tell which provider
// answered when it talks to several).
func (p *Provider) issueCode(ctx context.Context, ar authRequest, login Login) (string, error) {
	target, ok := p.opts.Targets(login.Instance)
	if !ok {
		return "", oidc.ErrLoginRequired().WithDescription("the connector signed in with is no longer configured")
	}
	codeID := newID()
	id := identityOf(login, target)
	id.Issued, id.Config = p.built.UnixMilli(), p.configPrint()
	if err := p.putRecord(ctx, "code", codeID, code{Request: ar, Identity: id, Grant: newID()}, codeTTL); err != nil {
		return "", oidcError(err, "the store cannot be reached")
	}
	u, err := url.Parse(ar.RedirectURI)
	if err != nil {
		return "", oidc.ErrServerError()
	}
	q := u.Query()
	q.Set("code", codeID)
	if ar.State != "" {
		q.Set("state", ar.State)
	}
	q.Set("iss", p.opts.Config.Issuer)
	u.RawQuery = q.Encode()
	p.event("code")
	return u.String(), nil
}
