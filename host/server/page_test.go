package server

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/sdk"
)

// The signed-in page shows what the provider sent about the user: a provider
// (or a user editing their profile there) that puts markup or a script URL in
// those fields gets text and no image, never code on idplug's origin.
func TestSignedInPageShowsTheProfileAsText(t *testing.T) {
	u := &userSession{Connector: "acme", UserInfo: sdk.UserInfo{
		ID:     "u1",
		Name:   sdk.String(`<script>alert("name")</script>`),
		Email:  sdk.String(`a@example.com"><img src=x onerror=alert(1)>`),
		Avatar: sdk.String(`javascript:alert("avatar")`),
	}}
	data := pageData{User: u, Profile: profileOf(u, []host.Instance{{ID: "acme", Name: sdk.I18n{"en": "Acme <b>SSO</b>"}}})}
	var out bytes.Buffer
	if err := homeTemplate.Execute(&out, data); err != nil {
		t.Fatal(err)
	}
	page := out.String()
	for _, unwanted := range []string{"<script>alert", "<img src=x", "javascript:", "<b>SSO"} {
		if strings.Contains(page, unwanted) {
			t.Errorf("the page carries %q unescaped:\n%s", unwanted, page)
		}
	}
	for _, want := range []string{`id="user-name">&lt;script&gt;`, `id="user-connector">Acme &lt;b&gt;SSO&lt;/b&gt;`, `id="user-email">a@example.com&#34;&gt;`} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %s:\n%s", want, page)
		}
	}

	// A plain profile: every field, and the avatar as an image.
	u.UserInfo.Name, u.UserInfo.Email, u.UserInfo.Avatar = sdk.String("Alice"), sdk.String("alice@example.com"), sdk.String("https://img.example/a.png")
	data.Profile = profileOf(u, nil)
	out.Reset()
	if err := homeTemplate.Execute(&out, data); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`id="avatar" src="https://img.example/a.png"`, `id="user-name">Alice<`, `id="user-email">alice@example.com<`, `id="user-connector">acme<`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the page lacks %s:\n%s", want, out.String())
		}
	}
}

// What a confirmation page's form-action lets its answer redirect to: an
// origin, or a native app's private-use scheme, never a script or data URL.
func TestRedirectTarget(t *testing.T) {
	for uri, want := range map[string]string{
		"http://127.0.0.1:45678/cb?x=1": "http://127.0.0.1:45678",
		"https://app.test/cb":           "https://app.test",
		"com.example.app:/cb":           "com.example.app:",
		"com.example.app:/cb?a='x'":     "com.example.app:",
		"javascript:alert(1)":           "",
		"data:text/html,x":              "",
		"http://a.test;script-src */cb": "",
		"Com.Example:/cb":               "com.example:",
		"":                              "",
		"1app:/cb":                      "",
		"http://[::1]:3000/cb":          "http://[::1]:3000",
		"web+app://x y":                 "",
	} {
		if got := redirectTarget(uri); got != want {
			t.Errorf("redirectTarget(%q) = %q, want %q", uri, got, want)
		}
	}
}

// Every page keeps its URL (a pending request's id under /oidc/login) off the
// hosts its images load from, and lets no injected <base> move its links.
func TestPagesKeepTheirURLToThemselves(t *testing.T) {
	s := &Server{}
	rec := httptest.NewRecorder()
	s.renderPage(rec, http.StatusOK, pageData{})
	if got := rec.Header().Get("Referrer-Policy"); got != "no-referrer" {
		t.Errorf("Referrer-Policy = %q", got)
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "base-uri 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
}

// A failed sign-out (the provider's end_session, the browser's /sign-out) is
// titled as one, not as a failed sign-in.
func TestErrorPagesNameTheirStep(t *testing.T) {
	srv := newUnitServer(t, &fakeInstances{}, nil)
	for path, title := range map[string]string{"/oidc/end_session": "Sign-out failed", "/sign-out": "Sign-out failed", "/callback/acme": "Sign-in failed"} {
		rec := httptest.NewRecorder()
		srv.errorPage(rec, httptest.NewRequest(http.MethodGet, path, nil), badRequest("id_token_hint is not valid"))
		if !strings.Contains(rec.Body.String(), title) {
			t.Errorf("%s: the page is not titled %q:\n%.300s", path, title, rec.Body)
		}
	}
}
