package server

import (
	"encoding/json"
	"strings"
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
	for _, avatar := range []string{
		"javascript:alert(document.cookie)",
		"data:text/html,<script>alert(document.cookie)</script>",
	} {
		eachStore(t, func(t *testing.T, withStore func(*Settings), stored bool) {
			f := signingIn("42")
			f.userInfo.UserInfo.Avatar = sdk.String(avatar)
			srv := newUnitServer(t, f, withStore)
			mustSetConnectors(t, srv, []string{"acme"})
			session := browserSignIn(t, srv, f)
			rec := browserRequest(srv, "GET", "/user", "", nil, session)
			var body struct {
				Claims   map[string]any `json:"claims"`
				UserInfo struct {
					Avatar *string `json:"avatar"`
				} `json:"userInfo"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			if p, _ := body.Claims["picture"].(string); p != "" && !strings.HasPrefix(p, "https://") && !strings.HasPrefix(p, "http://") {
				t.Errorf("/user claims.picture = %q: a URL the OpenID Provider would never issue as picture", p)
			}
			if a := body.UserInfo.Avatar; a != nil && !strings.HasPrefix(*a, "https://") && !strings.HasPrefix(*a, "http://") {
				t.Errorf("/user userInfo.avatar = %q", *a)
			}
		})
	}
}
