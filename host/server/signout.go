package server

import (
	"net/http"

	"github.com/idplug/idplug/sdk"
)

// Sign-out changes state, so it is a POST, refused when it comes from another
// site: a cross-site page cannot sign a user out (Go's CrossOriginProtection:
// Sec-Fetch-Site, or Origin against the host and public_url). GET /sign-out shows
// a page with the button.

// sameOrigin refuses cross-site state-changing requests with an error page.
func (s *Server) sameOrigin(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	// Behind a proxy that rewrites Host, the public origin is this site too.
	u := *s.settings.PublicURL
	_ = cop.AddTrustedOrigin(u.Scheme + "://" + u.Host)
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.errorPage(w, r, &sdk.Error{Code: CodeCrossOrigin,
			Message: "this request came from another site; use the button on this site's page"})
	}))
	return cop.Handler(next)
}

func (s *Server) signOutPage(w http.ResponseWriter, r *http.Request) {
	data := s.pageData()
	data.ConfirmSignOut = true
	if sess, ok := s.currentUser(r); ok {
		data.User = &sess
	}
	s.renderPage(w, http.StatusOK, data)
}

func (s *Server) signOut(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	// With a store, the session ends on every replica, for every copy of the
	// cookie. Only then is the cookie cleared: cleared on a failure, it would
	// leave nothing for the person's retry to revoke, which then looked like
	// success while a copy of the cookie still signed in.
	if err := s.endUserSession(r); err != nil {
		s.errorPage(w, r, err)
		return
	}
	http.SetCookie(w, s.cookies.clearSession())
	http.Redirect(w, r, s.link("/"), http.StatusSeeOther)
}
