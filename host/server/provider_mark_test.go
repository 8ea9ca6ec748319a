package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// A browser leaves a SameSite=Lax cookie out of a cross-site POST, yet stores
// what the answer to a top-level one sets. With the browser's mark Lax, a page
// that submitted a form to /authorize (any client id would do), or an app that
// sends its authorization request as a POST, gave the browser a new mark, and
// every request it had pending in other tabs was refused as "started in
// another browser". Over https the mark is SameSite=None: the browser sends
// it with that POST, and /authorize keeps it.
func TestCrossSitePostKeepsTheBrowsersMark(t *testing.T) {
	srv, apps, b := twoAppsOnAcme(t)
	base, _ := url.Parse(b.base + "/")

	rec := b.get(authorizeQuery("app1", apps["app1"][0], "st-app1"))
	first, _ := url.Parse(rec.Header().Get("Location"))
	if first == nil || first.Path != "/oidc/login" {
		t.Fatalf("app1's request: %d, Location %q", rec.Code, rec.Header().Get("Location"))
	}
	var mark *http.Cookie
	for _, c := range b.jar.Cookies(base) {
		if c.Name == "__Host-idplug_browser" {
			mark = c
		}
	}
	set := rec.Result().Cookies()
	var sameSite http.SameSite
	for _, c := range set {
		if c.Name == "__Host-idplug_browser" {
			sameSite = c.SameSite
		}
	}
	if mark == nil || sameSite != http.SameSiteNoneMode {
		t.Fatalf("the browser's mark %v, SameSite %v; want SameSite=None over https, so that cross-site POSTs carry it", mark, sameSite)
	}

	// Another site's page posts a form to /authorize: the browser sends the
	// SameSite=None mark with it, and keeps what the answer sets.
	u, _ := url.Parse(authorizeQuery("app2", apps["app2"][0], "st-other"))
	post := browserRequest(srv, http.MethodPost, "/oidc/authorize", u.RawQuery, map[string]string{
		"Content-Type": "application/x-www-form-urlencoded", "Origin": "https://other.test", "Sec-Fetch-Site": "cross-site"}, mark)
	b.jar.SetCookies(base, post.Result().Cookies())

	rec = b.get(first.RequestURI())
	if strings.Contains(rec.Body.String(), "started in another browser") || rec.Code != http.StatusFound {
		t.Fatalf("app1's request after a cross-site POST to /authorize: %d %.200s; want it still this browser's", rec.Code, rec.Body)
	}
}
