package server

import (
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

func TestCookieNames(t *testing.T) {
	for _, tc := range []struct {
		scheme, prefix                       string
		flow, flowPath, session, sessionPath string
	}{
		{"https", "", "__Host-idplug_flow", "/", "__Host-idplug_session", "/"},
		{"https", "/idp", "__Host-idplug_flow", "/", "__Host-idplug_session", "/"},
		{"http", "", "idplug_flow", "/callback/acme", "idplug_session", "/"},
		{"http", "/idp", "idplug_flow", "/idp/callback/acme", "idplug_session", "/idp/"},
		// Segments a client may spell escaped or not are left out of Path.
		{"http", "/id(p)", "idplug_flow", "/", "idplug_session", "/"},
		{"http", "/a/café/b", "idplug_flow", "/a/", "idplug_session", "/a/"},
		{"http", "/a-b_c.d~e/f%g", "idplug_flow", "/a-b_c.d~e/", "idplug_session", "/a-b_c.d~e/"},
	} {
		c := newCookiePolicy(tc.scheme, tc.prefix)
		f, s := c.flow("acme", "v", time.Minute), c.session("v", time.Minute)
		if f.Name != tc.flow || f.Path != tc.flowPath || s.Name != tc.session || s.Path != tc.sessionPath ||
			f.Secure != (tc.scheme == "https") || !f.HttpOnly || !s.HttpOnly {
			t.Errorf("%s %q: flow %s %s, session %s %s", tc.scheme, tc.prefix, f.Name, f.Path, s.Name, s.Path)
		}
	}
}
