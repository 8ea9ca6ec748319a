package oidcprovider

import (
	"context"
	"errors"
	"mime"
	"net/http"
	"net/url"

	"github.com/idplug/idplug/host/store"
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
	ar, err := p.pending(r.Context(), id)
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

func (p *Provider) finishURL(id string) string {
	return p.link(finishPath) + "?id=" + url.QueryEscape(id)
}

// finish sends the code to the app once the browser signed in as the request
// needs, and, where the app's identity is not assured, once the person said so
// on the confirmation page, whose POST comes back here (refused cross-site).
// The request is spent once a code or a refusal goes to the app; a failed
// step before that, or the confirmation page, leaves it pending until it
// expires.
func (p *Provider) finish(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id, answer, err := finishParams(r)
	if err != nil {
		p.opts.Browser.Fail(w, r, err)
		return
	}
	ar, err := p.pending(ctx, id)
	if err != nil {
		p.opts.Browser.Fail(w, r, err)
		return
	}
	c, err := p.client(ar.ClientID)
	if err != nil {
		p.opts.Browser.Fail(w, r, expired())
		return
	}
	login, ok := p.opts.Browser.SignedIn(r)
	if !ok {
		p.opts.Browser.Fail(w, r, &sdk.Error{Code: sdk.CodeAuthorizationFailed,
			Message: "this browser did not finish signing in; go back to the app and start again"})
		return
	}
	if why := p.usable(login, ar, c); why != "" {
		p.opts.Browser.Fail(w, r, &sdk.Error{Code: sdk.CodeAuthorizationFailed, Message: "the sign-in does not do for this app: " + why})
		return
	}
	if ar.Confirm && answer == "" {
		p.opts.Browser.ConfirmApp(w, r, p.link(finishPath), map[string]string{"id": id}, c.cfg.ID, ar.RedirectURI)
		return
	}
	// Spent atomically first: two finishes of one request at once (a double
	// click, a replayed link) give one answer to the app, not two codes.
	err = p.opts.Store.ConsumeFlow(ctx, storeKey("authz-done", id), p.opts.Now().Add(p.opts.RequestTTL+consumedMargin))
	if errors.Is(err, store.ErrUsed) {
		p.opts.Browser.Fail(w, r, expired())
		return
	}
	if err != nil {
		p.opts.Browser.Fail(w, r, &sdk.Error{Code: sdk.CodeGeneral, Message: "the store cannot be reached; try again"})
		return
	}
	// Spent now: its record goes, or expires with RequestTTL if the store
	// does not answer; a retry could only find it spent.
	if err := p.dropRecord(ctx, "authz", id); err != nil {
		p.log.Warn("a finished sign-in request's record stays until it expires", "error", err)
	}
	w.Header().Set("Cache-Control", "no-store")
	if answer == "deny" {
		p.event("denied")
		http.Redirect(w, r, p.denied(ar), http.StatusSeeOther)
		return
	}
	redirect, err := p.issueCode(ctx, ar, login)
	if err != nil {
		p.opts.Browser.Fail(w, r, &sdk.Error{Code: sdk.CodeGeneral, Message: "the sign-in could not be finished; try again"})
		return
	}
	http.Redirect(w, r, redirect, http.StatusSeeOther)
}

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
	u, err := url.Parse(ar.RedirectURI)
	if err != nil {
		return p.opts.PublicPath + "/"
	}
	q := u.Query()
	q.Set("error", "access_denied")
	q.Set("error_description", "the person did not let this app sign in")
	if ar.State != "" {
		q.Set("state", ar.State)
	}
	q.Set("iss", p.opts.Config.Issuer)
	u.RawQuery = q.Encode()
	return u.String()
}

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
	if err := p.putRecord(ctx, "code", codeID, code{Request: ar, Identity: identityOf(login, target), Grant: newID()}, codeTTL); err != nil {
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
