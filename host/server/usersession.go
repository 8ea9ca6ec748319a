package server

import (
	"net/http"

	"github.com/idplug/idplug/host/oidcprovider"
	"github.com/idplug/idplug/sdk"
)

// userSession is what the session cookie holds once a browser signed in: the
// profile once (the claims /user shows are derived from it), without the
// provider's raw profile, which may be of any size.
type userSession struct {
	Connector string       `json:"c"`
	UserInfo  sdk.UserInfo `json:"u"`
	// Claims are those the connector's mapping added.
	Claims map[string]any `json:"cl,omitempty"`
	// AuthTime is when the browser signed in at the provider (Unix
	// milliseconds); 0 in sessions made before it was kept.
	AuthTime int64 `json:"at,omitempty"`
	// Source names who vouched for the profile (sessionSources); "" in
	// sessions made before it was kept.
	Source string `json:"src,omitempty"`
}

const userSessionPurpose = "user-session"

// droppable are the profile fields left out, in this order, of a session that
// would not fit in a cookie; the id always stays.
var droppable = []func(*sdk.UserInfo){
	func(u *sdk.UserInfo) { u.Avatar = nil }, // a data: URL can be large
	func(u *sdk.UserInfo) { u.Phone = nil },
	func(u *sdk.UserInfo) { u.Name = nil },
	func(u *sdk.UserInfo) { u.Email = nil },
}

// userSessionCookie seals the signed-in profile into the session cookie, keeping
// it under a browser's cookie size: fields are dropped until it fits, and a
// profile whose id alone does not fit is the plugin's invalid_response.
//
// The mapping's claims are never dropped: an app may decide on them.
func (s *Server) userSessionCookie(id, source string, u sdk.UserInfo, claims map[string]any) (*http.Cookie, error) {
	sess := userSession{Connector: id, UserInfo: u, Claims: claims, AuthTime: s.signInTime(id), Source: source}
	sess.UserInfo.RawData = nil
	var err error
	for i := 0; ; i++ {
		var sealed string
		sealed, err = s.sealJSON(userSessionPurpose, sess, s.settings.UserSessionTTL)
		if err == nil {
			c := s.cookies.session(sealed, s.settings.UserSessionTTL)
			n := len(c.Name) + len(c.Value)
			if n <= maxCookieLen {
				return c, nil
			}
			err = &sizeError{size: n, limit: maxCookieLen}
		}
		if i == len(droppable) {
			break
		}
		droppable[i](&sess.UserInfo)
	}
	return nil, s.blamePlugin(err, id, "a profile")
}

func (s *Server) user(w http.ResponseWriter, r *http.Request) {
	sess, ok, err := s.lookupUser(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if !ok {
		writeJSON(w, http.StatusOK, map[string]any{"isAuthenticated": false})
		return
	}
	// The apps of this site put the avatar in an img's src or a link as it
	// comes: one that is not an http(s) URL (a provider's, or a hostile
	// plugin's, javascript: or data:text/html) is left out, as the OpenID
	// Provider leaves it out of picture and idplug's page does.
	u := sess.UserInfo
	if u.Avatar != nil && !oidcprovider.WebURL(*u.Avatar) {
		u.Avatar = nil
	}
	writeJSON(w, http.StatusOK, map[string]any{"isAuthenticated": true, "claims": claimsOf(u, sess.Claims),
		"userInfo": u, "connector": sess.Connector})
}

// claimsOf shapes the profile like ID token claims, with the mapping's claims
// (which never have the profile's names: the config refuses them).
func claimsOf(u sdk.UserInfo, mapped map[string]any) map[string]any {
	claims := make(map[string]any, len(mapped)+5)
	for k, v := range mapped {
		claims[k] = v
	}
	claims["sub"] = u.ID
	for k, v := range map[string]*string{"name": u.Name, "email": u.Email, "picture": u.Avatar, "phone_number": u.Phone} {
		if v != nil {
			claims[k] = *v
		}
	}
	return claims
}
