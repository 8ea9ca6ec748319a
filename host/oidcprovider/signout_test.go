package oidcprovider

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// signOutPage records the fields the sign-out confirmation page was given.
type signOutPage struct {
	*testBrowser
	fields map[string]string
}

func (b *signOutPage) ConfirmSignOut(w http.ResponseWriter, r *http.Request, action string, fields map[string]string) {
	b.fields = fields
	b.testBrowser.ConfirmSignOut(w, r, action, fields)
}

// An app that names itself by id_token_hint alone (no client_id), for a
// browser signed in as someone else, gets the confirmation page; the page
// posted post_logout_redirect_uri and state back without saying whose they
// were, and the confirmed sign-out was refused, leaving the person signed in.
// The page now carries the client the verified hint was issued to (not the
// hint), and what it posts is checked again as before: a post naming a URI
// the client did not register goes nowhere.
func TestConfirmedSignOutWithAHintAlone(t *testing.T) {
	s := newHostileSetup(t)
	page := &signOutPage{testBrowser: s.browser}
	s.p.opts.Browser = page
	s.signIn("bob")
	hint := s.idToken(t, "alice") // Alice's ID token for web; the browser is Bob's now
	rec := s.do(httptest.NewRequest(http.MethodGet, "/end_session?"+url.Values{
		"id_token_hint": {hint}, "post_logout_redirect_uri": {"https://app.test/bye"}, "state": {"s1"}}.Encode(), nil))
	if rec.Code != http.StatusOK || s.browser.confirms != 1 || s.browser.signedOut != 0 {
		t.Fatalf("end_session: %d, asked %d times, signed out %d times, failures %v", rec.Code, s.browser.confirms, s.browser.signedOut, s.browser.failures)
	}
	want := map[string]string{"client_id": "web", "post_logout_redirect_uri": "https://app.test/bye", "state": "s1"}
	if _, ok := page.fields["id_token_hint"]; ok || len(page.fields) != len(want) {
		t.Errorf("the page's fields: %v, want %v (not the ID token)", page.fields, want)
	}
	posted := url.Values{}
	for k, v := range want {
		if page.fields[k] != v {
			t.Errorf("the page's %s: %q, want %q", k, page.fields[k], v)
		}
		posted.Set(k, page.fields[k])
	}

	// A forged post naming another URI, from this site or another, goes nowhere.
	forged := url.Values{"client_id": {"web"}, "post_logout_redirect_uri": {"https://evil.test/"}}
	crossSite := form(http.MethodPost, confirmPath, posted)
	crossSite.Header.Set("Sec-Fetch-Site", "cross-site")
	for what, r := range map[string]*http.Request{
		"another URI": form(http.MethodPost, confirmPath, forged), "from another site": crossSite} {
		if rec := s.do(r); rec.Code == http.StatusSeeOther || s.browser.signedOut != 0 {
			t.Errorf("a post with %s: %d to %q, signed out %d times", what, rec.Code, rec.Header().Get("Location"), s.browser.signedOut)
		}
	}

	// The page's own post signs out, back to the app.
	rec = s.do(form(http.MethodPost, confirmPath, posted))
	if rec.Code != http.StatusSeeOther || s.browser.signedOut != 1 {
		t.Fatalf("the confirmation: %d, signed out %d times, failures %v", rec.Code, s.browser.signedOut, s.browser.failures)
	}
	if got := rec.Header().Get("Location"); got != "https://app.test/bye?state=s1" {
		t.Errorf("redirected to %q", got)
	}
}
