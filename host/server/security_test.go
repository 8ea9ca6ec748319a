package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestWithoutPaths(t *testing.T) {
	for in, want := range map[string]string{
		"fork/exec /opt/idplug/plugins/idplug-connector-x: exec format error": "fork/exec idplug-connector-x: exec format error",
		"/srv/p/SHA256SUMS is writable by other users (mode -rw-rw-rw-)":      "SHA256SUMS is writable by other users (mode -rw-rw-rw-)",
		`open "/etc/x/y": denied`:  `open "y": denied`,
		"not listed in SHA256SUMS": "not listed in SHA256SUMS",
	} {
		if got := withoutPaths(in); got != want {
			t.Errorf("withoutPaths(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCheckRedirectTo(t *testing.T) {
	for _, ok := range []string{"https://id.example.com/authorize?x=1", "http://127.0.0.1:9400/auth"} {
		if err := checkRedirectTo(ok); err != nil {
			t.Errorf("checkRedirectTo(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "javascript:alert(1)", "javascript://x/%0aalert(1)", "data:text/html,hi",
		"/relative", "//evil.test/x", "https:opaque", "ftp://x.test/", "https://"} {
		if err := checkRedirectTo(bad); err == nil {
			t.Errorf("checkRedirectTo(%q) accepted it", bad)
		}
	}
}

func TestCheckState(t *testing.T) {
	if err := checkState(strings.Repeat("a", maxStateLen)); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{strings.Repeat("a", maxStateLen+1), "a\nb", "caf\u00e9", "a\x00"} {
		if err := checkState(bad); err == nil {
			t.Errorf("checkState(%q) accepted it", bad)
		}
	}
}

// Every cookie carries one path, the flow cookies the session's: a sign-in
// sees the flows under way. The single flow cookie of earlier releases is
// cleared where it was set: its connector's callback over plain http.
func TestCookieNames(t *testing.T) {
	for _, tc := range []struct {
		scheme, prefix      string
		flow, session, path string
		legacy, legacyPath  string
	}{
		{"https", "", "__Host-idplug_flow_3", "__Host-idplug_session", "/", "__Host-idplug_flow", "/"},
		{"https", "/idp", "__Host-idplug_flow_3", "__Host-idplug_session", "/", "__Host-idplug_flow", "/"},
		{"http", "", "idplug_flow_3", "idplug_session", "/", "idplug_flow", "/callback/acme"},
		{"http", "/idp", "idplug_flow_3", "idplug_session", "/idp/", "idplug_flow", "/idp/callback/acme"},
		// Segments a client may spell escaped or not are left out of Path.
		{"http", "/id(p)", "idplug_flow_3", "idplug_session", "/", "idplug_flow", "/"},
		{"http", "/a/café/b", "idplug_flow_3", "idplug_session", "/a/", "idplug_flow", "/a/"},
		{"http", "/a-b_c.d~e/f%g", "idplug_flow_3", "idplug_session", "/a-b_c.d~e/", "idplug_flow", "/a-b_c.d~e/"},
	} {
		c := newCookiePolicy(tc.scheme, tc.prefix)
		f, s, l := c.flow(3, "v", time.Minute), c.session("v", time.Minute), c.clearLegacyFlow("acme")
		if f.Name != tc.flow || f.Path != tc.path || s.Name != tc.session || s.Path != tc.path ||
			f.Secure != (tc.scheme == "https") || !f.HttpOnly || !s.HttpOnly || f.SameSite != http.SameSiteLaxMode {
			t.Errorf("%s %q: flow %s %s, session %s %s", tc.scheme, tc.prefix, f.Name, f.Path, s.Name, s.Path)
		}
		if l.Name != tc.legacy || l.Path != tc.legacyPath || l.MaxAge >= 0 {
			t.Errorf("%s %q: the earlier flow cookie is cleared as %s at %s", tc.scheme, tc.prefix, l.Name, l.Path)
		}
		if cl := c.clearFlow(3); cl.Name != f.Name || cl.Path != f.Path || cl.MaxAge >= 0 {
			t.Errorf("%s %q: flow cleared as %s at %s", tc.scheme, tc.prefix, cl.Name, cl.Path)
		}
		b := c.browser("v", time.Minute)
		if b.Name != strings.TrimSuffix(tc.session, "session")+"browser" || b.Path != tc.path || b.MaxAge != 60 ||
			b.Secure != (tc.scheme == "https") || !b.HttpOnly || (tc.scheme == "https") != (b.SameSite == http.SameSiteNoneMode) ||
			tc.scheme == "http" && b.SameSite != http.SameSiteLaxMode {
			t.Errorf("%s %q: browser mark %+v", tc.scheme, tc.prefix, b)
		}
	}
}

// The browser's mark for the provider's requests: kept while it is one
// idplug could have made, replaced otherwise (a planted short value would
// be easy to guess), and its lifetime renewed at each request.
func TestBrowserMark(t *testing.T) {
	srv := newUnitServer(t, &fakeInstances{}, nil) // https://idp.example.test
	b := srv.ProviderBrowser()
	rec := httptest.NewRecorder()
	first := b.Bind(rec, httptest.NewRequest(http.MethodGet, "/oidc/authorize", nil), 10*time.Minute)
	set := rec.Result().Cookies()
	if len(set) != 1 || set[0].Name != "__Host-idplug_browser" || set[0].Value != first || set[0].MaxAge != 600 || !isBrowserMark(first) {
		t.Fatalf("first mark %q, cookies %v", first, set)
	}
	again := httptest.NewRequest(http.MethodGet, "/oidc/authorize", nil)
	again.AddCookie(&http.Cookie{Name: "__Host-idplug_browser", Value: first})
	if got := b.Bind(httptest.NewRecorder(), again, time.Minute); got != first || b.Binding(again) != first {
		t.Fatalf("a browser with its mark got %q, want it kept", got)
	}
	for _, planted := range []string{"a", strings.Repeat("A", 42), first + "A", "not base64 at all, but 43 characters long!!"} {
		r := httptest.NewRequest(http.MethodGet, "/oidc/authorize", nil)
		r.AddCookie(&http.Cookie{Name: "__Host-idplug_browser", Value: planted})
		if b.Binding(r) != "" {
			t.Errorf("the mark %q was taken as idplug's", planted)
		}
		if got := b.Bind(httptest.NewRecorder(), r, time.Minute); got == planted || !isBrowserMark(got) {
			t.Errorf("a browser with the mark %q kept it: %q", planted, got)
		}
	}
}
