package oidcprovider

import (
	"errors"
	"net/http"
	"net/url"
	"slices"

	"github.com/idplug/idplug/sdk"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0). An app that
// sends an ID token of the browser's user (id_token_hint) signs the browser out
// at once, even when the token has expired, as apps sign out long after they
// signed in. A request without one, or with another user's, may come from any
// site, so the person confirms on a page of this site first, and the
// confirmation is refused cross-site. The app's post_logout_redirect_uri must
// be one it registered, exactly.

const confirmPath = endSessionPath + "/confirm"

func (p *Provider) endSession(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if err := r.ParseForm(); err != nil || len(r.Form) > 16 {
		p.opts.Browser.Fail(w, r, &sdk.Error{Code: sdk.CodeInvalidRequestParameters, Message: "the sign-out request cannot be read"})
		return
	}
	params := map[string]string{}
	for _, k := range []string{"id_token_hint", "client_id", "post_logout_redirect_uri", "state"} {
		if v := r.Form.Get(k); v != "" {
			if len(v) > 8<<10 {
				p.opts.Browser.Fail(w, r, &sdk.Error{Code: sdk.CodeInvalidRequestParameters, Message: k + " is too long"})
				return
			}
			params[k] = v
		}
	}
	redirect, clientID, hintSub, err := p.logoutTarget(r, params)
	if err != nil {
		p.opts.Browser.Fail(w, r, err)
		return
	}
	if hintSub == "" || !p.isSignedIn(r, hintSub) {
		p.opts.Browser.ConfirmSignOut(w, r, p.link(confirmPath), confirmFields(params, clientID))
		return
	}
	p.signOut(w, r, redirect)
}

// confirmSignOut is the confirmation's POST, refused from another site.
func (p *Provider) confirmSignOut(w http.ResponseWriter, r *http.Request) {
	if err := readPageForm(r, "the sign-out confirmation"); err != nil {
		p.opts.Browser.Fail(w, r, err)
		return
	}
	params := map[string]string{}
	for _, k := range []string{"client_id", "post_logout_redirect_uri", "state"} {
		if v := r.PostForm.Get(k); v != "" && len(v) <= 8<<10 {
			params[k] = v
		}
	}
	redirect, _, _, err := p.logoutTarget(r, params)
	if err != nil {
		p.opts.Browser.Fail(w, r, err)
		return
	}
	p.signOut(w, r, redirect)
}

// confirmFields are what the confirmation page posts back: the client the
// request named, or the one its verified id_token_hint was issued to, with
// post_logout_redirect_uri and state, all checked again by confirmSignOut.
// The hint itself stays off the page: its client is all the confirmation
// needs of it.
func confirmFields(params map[string]string, clientID string) map[string]string {
	fields := map[string]string{}
	for _, k := range []string{"post_logout_redirect_uri", "state"} {
		if v, ok := params[k]; ok {
			fields[k] = v
		}
	}
	if clientID != "" {
		fields["client_id"] = clientID
	}
	return fields
}

func (p *Provider) signOut(w http.ResponseWriter, r *http.Request, redirect string) {
	if err := p.opts.Browser.SignOut(w, r); err != nil {
		p.opts.Browser.Fail(w, r, err)
		return
	}
	p.event("end_session")
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, redirect, http.StatusSeeOther)
}

// isSignedIn says whether this browser is signed in as sub. A browser with
// no session at all counts as sub's too: signing it out changes nothing. One
// whose session SignedIn refuses (a mark that does not open, a connector
// removed, a store that cannot tell) is nobody's for sure: its person is
// asked, or a link with another user's hint and a made-up mark signs it out.
func (p *Provider) isSignedIn(r *http.Request, sub string) bool {
	l, ok := p.opts.Browser.SignedIn(r)
	if !ok {
		return !p.opts.Browser.HasSession(r)
	}
	t, ok := p.opts.Targets(l.Instance)
	return ok && subject(t, l.UserInfo.ID) == sub
}

// logoutTarget checks the request and says where the browser goes afterwards,
// which client asks (the one id_token_hint was issued to, or client_id; ""
// when neither says), and whose sign-out a valid id_token_hint asks for (""
// without one).
func (p *Provider) logoutTarget(r *http.Request, params map[string]string) (redirect, clientID, hintSub string, err error) {
	home := p.opts.PublicPath + "/"
	clientID = params["client_id"]
	if hint := params["id_token_hint"]; hint != "" {
		ctx := op.ContextWithIssuer(r.Context(), p.opts.Config.Issuer)
		claims, err := op.VerifyIDTokenHint[*oidc.IDTokenClaims](ctx, hint, p.op.IDTokenHintVerifier(ctx))
		// An expired token passed the checks before the expiry (signature,
		// issuer) first: it still says who signed in, and through which app.
		if err != nil && !errors.As(err, &op.IDTokenHintExpiredError{}) {
			return "", "", "", &sdk.Error{Code: sdk.CodeInvalidRequestParameters, Message: "id_token_hint is not an ID token of this provider"}
		}
		aud := claims.GetAuthorizedParty()
		if aud == "" && len(claims.Audience) == 1 {
			aud = claims.Audience[0]
		}
		if clientID != "" && clientID != aud {
			return "", "", "", &sdk.Error{Code: sdk.CodeInvalidRequestParameters, Message: "client_id is not the one id_token_hint was issued to"}
		}
		clientID, hintSub = aud, claims.GetSubject()
	}
	uri := params["post_logout_redirect_uri"]
	if uri == "" {
		return home, clientID, hintSub, nil
	}
	c, ok := p.clients[clientID]
	if !ok {
		return "", "", "", &sdk.Error{Code: sdk.CodeInvalidRequestParameters,
			Message: "post_logout_redirect_uri needs client_id or id_token_hint to say whose it is"}
	}
	if !slices.Contains(c.cfg.PostLogoutRedirectURIs, uri) {
		return "", "", "", &sdk.Error{Code: sdk.CodeInvalidRequestParameters,
			Message: "post_logout_redirect_uri is not one this client registered"}
	}
	u, err := url.Parse(uri)
	if err != nil {
		return "", "", "", &sdk.Error{Code: sdk.CodeInvalidRequestParameters, Message: "post_logout_redirect_uri is not a URL"}
	}
	if state := params["state"]; state != "" {
		q := u.Query()
		q.Set("state", state)
		u.RawQuery = q.Encode()
	}
	return u.String(), clientID, hintSub, nil
}
