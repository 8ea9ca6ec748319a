package server

import (
	"encoding/json"
	"testing"

	"github.com/idplug/idplug/sdk"
)

// The OpenID Provider drops an avatar that is not an http(s) URL before it
// becomes `picture` (apps put it in an img's src, or a link, as it comes:
// host/oidcprovider's webURL), and idplug's own page drops it too (safeURL).
// /user, which answers the same profile "shaped like ID token claims" to the
// apps of this site, had passed a provider's (or a hostile plugin's)
// javascript: or data:text/html avatar on as claims.picture and
// userInfo.avatar.
func TestUserAnswerDropsAPictureThatIsNoWebURL(t *testing.T) {
	for avatar, kept := range map[string]bool{
		"javascript:alert(document.cookie)":                      false,
		"data:text/html,<script>alert(document.cookie)</script>": false,
		"https://avatars.example/42.png":                         true,
	} {
		eachStore(t, func(t *testing.T, withStore func(*Settings), stored bool) {
			f := signingIn("42")
			f.userInfo.UserInfo.Avatar = sdk.String(avatar)
			srv := newUnitServer(t, f, withStore)
			mustSetConnectors(t, srv, []string{"acme"})
			session := browserSignIn(t, srv, f)
			rec := browserRequest(srv, "GET", "/user", "", nil, session)
			var body struct {
				IsAuthenticated bool           `json:"isAuthenticated"`
				Claims          map[string]any `json:"claims"`
				UserInfo        struct {
					Avatar *string `json:"avatar"`
				} `json:"userInfo"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || !body.IsAuthenticated {
				t.Fatalf("/user after the sign-in: %v %s", err, rec.Body)
			}
			picture, _ := body.Claims["picture"].(string)
			switch {
			case kept && (picture != avatar || body.UserInfo.Avatar == nil || *body.UserInfo.Avatar != avatar):
				t.Errorf("/user left out the https avatar: picture %q, avatar %v", picture, body.UserInfo.Avatar)
			case !kept && (picture != "" || body.UserInfo.Avatar != nil):
				t.Errorf("/user passed %q on: claims.picture %q, userInfo.avatar %v; want both left out", avatar, picture, body.UserInfo.Avatar)
			}
		})
	}
}
