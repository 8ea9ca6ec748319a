package server

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/internal/wire"
	"github.com/idplug/idplug/sdk"
)

// The browser routes give an app the flow Logto's web SDKs give it: sign in, the
// sign-in callback, sign out, and who is signed in.

func (s *Server) browserRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", s.homePage)
	mux.HandleFunc("GET /sign-in/{id}", s.signIn)
	mux.HandleFunc("GET /callback/{id}", s.callback)
	mux.HandleFunc("GET /user", s.user)
	mux.HandleFunc("GET /sign-out", s.signOutPage)
	mux.Handle("POST /sign-out", s.sameOrigin(http.HandlerFunc(s.signOut)))
}

func (s *Server) signIn(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	returnTo, err := safeReturnTo(r.URL.Query().Get("returnTo"), s.link("/"))
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	// From here a failure goes where the sign-in would have: an app that
	// asked the provider for it hears of it (signInFailed).
	if err := s.checkConnectorID(id); err != nil {
		s.signInFailed(w, r, returnTo, err)
		return
	}
	pending := s.cookies.pendingFlows(r)
	slot, taken := pickFlowSlot(pending)
	state := newStateIn(slot)
	provider := s.flowProvider(id)
	auth, err := s.authorize(r.Context(), id, s.callbackURL(id), state)
	if err != nil {
		s.signInFailed(w, r, returnTo, err)
		return
	}
	cookie, err := s.sealCookie(id, "a session", browserFlowPurpose(id), s.stampFlow(flow{Session: auth.Session, State: state, ReturnTo: returnTo, Provider: provider}),
		func(v string) *http.Cookie { return s.cookies.flow(slot, v, s.settings.FlowTTL) })
	if err != nil {
		s.signInFailed(w, r, returnTo, err)
		return
	}
	if taken {
		// Cleared, not just overwritten: a browser may keep an overwritten
		// cookie's creation time, and the new flow would pass for the oldest.
		s.log.Debug("a new sign-in took the place of the oldest under way in its browser", "connector", id)
		http.SetCookie(w, s.cookies.clearFlow(slot))
	}
	if evict := flowsOverBudget(pending, slot, len(cookie.Name)+len(cookie.Value)); len(evict) > 0 {
		s.log.Debug("a new sign-in ended the oldest under way in its browser: their cookies together would be too large",
			"connector", id, "ended", len(evict))
		for _, old := range evict {
			http.SetCookie(w, s.cookies.clearFlow(old))
		}
	}
	http.SetCookie(w, cookie)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, auth.RedirectTo, http.StatusFound)
}

// maxCallbackFields bounds the parameters of a callback, by query or form_post:
// a provider sends a handful, and each one a plugin gets is work for it (the
// Logto bridge keeps every value out of what it says, value by value).
const maxCallbackFields = 32

func (s *Server) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if len(q) > maxCallbackFields {
		s.errorPage(w, r, badRequest("the callback has more than %d parameters", maxCallbackFields))
		return
	}
	s.finishSignIn(w, r, r.PathValue("id"), firstValues(q))
}

// finishSignIn completes a browser sign-in from the callback's parameters,
// whichever way they came. The callback's state names the one flow cookie it
// reads, which is spent only once the callback is shown to belong to it: a
// forged callback (a link an attacker sends, with a made-up state or another
// flow's) neither reaches the plugin nor cancels a sign-in in progress.
// A sign-in that fails after that (refused by the person, the provider or
// the mapping) goes back where it would have gone (signInFailed).
func (s *Server) finishSignIn(w http.ResponseWriter, r *http.Request, id string, params map[string]string) {
	if err := s.checkConnectorID(id); err != nil {
		s.errorPage(w, r, err)
		return
	}
	f, clearing, err := s.openFlowCookie(r, id, params["state"])
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	if sameState(params["state"], f.State) != nil {
		s.errorPage(w, r, errNotThisBrowsersFlow())
		return
	}
	// Who vouches for the profile and who its tokens come from, read once,
	// before the flow is spent and the plugin asked: the flow finishes only at
	// the provider it started with, and a reload after this binds the session
	// and the tokens to the provider before it (so that they serve no one),
	// not to the one after it.
	source, _, provider, err := s.sessionSources(id)
	if err == nil {
		err = sameProvider(f, id, provider)
	}
	if err != nil {
		s.signInFailed(w, r, f.ReturnTo, err)
		return
	}
	// From here the callback is this flow's own: once consumed in the store, it
	// is spent whatever the plugin says, here and on every replica. A store
	// that did not answer spent nothing: the cookie stays for the retry.
	if err := s.consumeFlow(r.Context(), f, "the sign-in"); err != nil {
		if e := sdk.AsError(err); e.Code != CodeStoreUnavailable && e.Code != sdk.CodeGeneral {
			http.SetCookie(w, clearing)
		}
		s.errorPage(w, r, err)
		return
	}
	http.SetCookie(w, clearing)
	removed, _ := s.removedAt(id)
	res, err := s.host.UserInfo(r.Context(), id, f.Session, params)
	if err == nil {
		// The host refuses a profile whose connector a reload removed while
		// the plugin answered; two reloads meanwhile, the connector removed
		// and added back as it was, leave nothing for it to see but this
		// (and a session dated after them would serve).
		if now, _ := s.removedAt(id); now != removed {
			err = &sdk.Error{Code: host.CodeInstanceNotFound, Message: fmt.Sprintf(
				"connector %q was removed while this sign-in finished; start again", id)}
		}
	}
	if err != nil {
		s.signInFailed(w, r, f.ReturnTo, err)
		return
	}
	if err := s.keepTokens(r.Context(), id, provider, &res.UserInfoResult); err != nil {
		s.signInFailed(w, r, f.ReturnTo, err)
		return
	}
	cookie, err := s.startUserSession(r.Context(), id, source, res.UserInfo, res.Claims)
	if err != nil {
		s.signInFailed(w, r, f.ReturnTo, err)
		return
	}
	http.SetCookie(w, cookie)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, s.signedReturn(f.ReturnTo, id, res.UserInfo.ID), http.StatusFound)
}

// sameState compares the callback's state with the one the host generated, in
// constant time. The plugin checks it too; the host does not rely on that.
func sameState(got, want string) error {
	if got == "" || want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return sdk.Errorf(sdk.CodeInvalidRequestParameters,
			"state mismatch: this callback does not belong to the sign-in this browser started; start again")
	}
	return nil
}

// sealCookie seals v into the cookie that makeCookie builds, refusing one a
// browser would drop for its size (blaming the connector, whose values it holds
// beyond what the host bounded).
func (s *Server) sealCookie(id, what, purpose string, v any, makeCookie func(string) *http.Cookie) (*http.Cookie, error) {
	sealed, err := s.sealJSON(purpose, v, s.settings.FlowTTL)
	if err != nil {
		return nil, s.blamePlugin(err, id, what)
	}
	c := makeCookie(sealed)
	if n := len(c.Name) + len(c.Value); n > maxCookieLen {
		return nil, s.blamePlugin(&sizeError{size: n, limit: maxCookieLen}, id, what+" for a cookie")
	}
	return c, nil
}

// connectorIDPattern is the config's pattern for instance ids.
var connectorIDPattern = wire.InstanceIDRE

// checkConnectorID refuses an id that is not a configured connector before it is
// used anywhere, a cookie path included.
func (s *Server) checkConnectorID(id string) error {
	if !connectorIDPattern.MatchString(id) {
		return &sdk.Error{Code: host.CodeInstanceNotFound, Message: "no such connector: an id is [a-z0-9][a-z0-9-]*"}
	}
	_, err := s.host.Instance(id)
	return err
}

// firstValues keeps the first value of each parameter.
func firstValues(q url.Values) map[string]string {
	data := make(map[string]string, len(q))
	for k, v := range q {
		if len(v) > 0 {
			data[k] = v[0]
		}
	}
	return data
}

// safeReturnTo accepts only a path on this host, so sign-in cannot be used to send
// a browser to another site (an open redirect). An empty one means home.
func safeReturnTo(raw, home string) (string, error) {
	if raw == "" {
		return home, nil
	}
	if err := checkLength("returnTo", raw, maxReturnToLen); err != nil {
		return "", err
	}
	u, err := url.Parse(raw)
	bad := err != nil || u.Scheme != "" || u.Host != "" || u.User != nil ||
		!strings.HasPrefix(raw, "/") || strings.HasPrefix(raw, "//") || strings.ContainsAny(raw, "\\\r\n\t")
	if bad {
		return "", badRequest("returnTo must be a path on this site, such as /account")
	}
	return raw, nil
}
