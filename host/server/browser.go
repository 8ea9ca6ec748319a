package server

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/idplug/idplug/sdk"
)

// The browser routes give an app the flow Logto's web SDKs give it: sign in, the
// sign-in callback, sign out, and who is signed in.

const (
	flowCookie    = "idplug_flow"
	sessionCookie = "idplug_session"
)

// userSession is what the session cookie holds once a browser signed in.
type userSession struct {
	Connector string         `json:"c"`
	Claims    map[string]any `json:"cl"`
	UserInfo  sdk.UserInfo   `json:"u"`
}

func (s *Server) signIn(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	returnTo, err := safeReturnTo(r.URL.Query().Get("returnTo"))
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	state := newState()
	redirectURI := s.callbackURL(id)
	auth, err := s.host.AuthorizationURI(r.Context(), id, redirectURI, state)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	sealed, err := s.sealJSON(browserFlowPurpose(id), flow{Session: auth.Session, RedirectURI: redirectURI, State: state, ReturnTo: returnTo}, s.settings.FlowTTL)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	// Lax: the provider's redirect back is a top-level GET, which Lax cookies survive.
	http.SetCookie(w, s.cookie(flowCookie, sealed, "/callback/"+id, int(s.settings.FlowTTL.Seconds())))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, auth.RedirectTo, http.StatusFound)
}

func (s *Server) callback(w http.ResponseWriter, r *http.Request) {
	data := map[string]string{}
	for k, v := range r.URL.Query() {
		if len(v) > 0 {
			data[k] = v[0]
		}
	}
	s.finishSignIn(w, r, r.PathValue("id"), data)
}

// finishSignIn checks the flow cookie and hands the callback's parameters to the
// connector; form_post callbacks arrive here too (formpost.go).
func (s *Server) finishSignIn(w http.ResponseWriter, r *http.Request, id string, data map[string]string) {
	c, err := r.Cookie(flowCookie)
	if err != nil {
		s.errorPage(w, r, &sdk.Error{Code: CodeSessionInvalid,
			Message: "this sign-in was not started in this browser, or it took too long; start again"})
		return
	}
	// The flow is one-time: whatever happens next, this browser cannot replay it.
	http.SetCookie(w, s.cookie(flowCookie, "", "/callback/"+id, -1))
	var f flow
	if err := s.openJSON(browserFlowPurpose(id), c.Value, "the sign-in", &f); err != nil {
		s.errorPage(w, r, err)
		return
	}
	res, err := s.host.UserInfo(r.Context(), id, f.Session, data)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	sess := userSession{Connector: id, Claims: claimsOf(res.UserInfo), UserInfo: res.UserInfo}
	// The whole provider profile may be too big for a cookie; /user serves the rest.
	sess.UserInfo.RawData = nil
	sealed, err := s.sealJSON(userSessionPurpose, sess, s.settings.UserSessionTTL)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	http.SetCookie(w, s.cookie(sessionCookie, sealed, "/", int(s.settings.UserSessionTTL.Seconds())))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, f.ReturnTo, http.StatusFound)
}

func (s *Server) user(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.currentUser(r)
	if !ok {
		writeJSON(w, http.StatusOK, map[string]any{"isAuthenticated": false})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"isAuthenticated": true, "claims": sess.Claims, "userInfo": sess.UserInfo, "connector": sess.Connector})
}

func (s *Server) signOut(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, s.cookie(sessionCookie, "", "/", -1))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, "/", http.StatusFound)
}

func (s *Server) currentUser(r *http.Request) (userSession, bool) {
	var sess userSession
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return sess, false
	}
	if err := s.openJSON(userSessionPurpose, c.Value, "the session", &sess); err != nil {
		return sess, false
	}
	return sess, true
}

func (s *Server) cookie(name, value, path string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: name, Value: value, Path: path, MaxAge: maxAge,
		HttpOnly: true, Secure: s.secureCookies(), SameSite: http.SameSiteLaxMode,
	}
}

// claimsOf shapes the profile like ID token claims.
func claimsOf(u sdk.UserInfo) map[string]any {
	claims := map[string]any{"sub": u.ID}
	for k, v := range map[string]*string{"name": u.Name, "email": u.Email, "picture": u.Avatar, "phone_number": u.Phone} {
		if v != nil {
			claims[k] = *v
		}
	}
	return claims
}

// safeReturnTo accepts only a path on this host, so sign-in cannot be used to send
// a browser to another site (an open redirect).
func safeReturnTo(raw string) (string, error) {
	if raw == "" {
		return "/", nil
	}
	u, err := url.Parse(raw)
	bad := err != nil || u.Scheme != "" || u.Host != "" || u.User != nil ||
		!strings.HasPrefix(raw, "/") || strings.HasPrefix(raw, "//") || strings.ContainsAny(raw, "\\\r\n\t")
	if bad {
		return "", badRequest("returnTo must be a path on this site, such as /account")
	}
	return raw, nil
}
