package server

import (
	"strings"
	"testing"
	"time"
)

func TestFailureLimiterBlocksAfterTooManyAndForgets(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newFailureLimiter(3, time.Minute, 100)
	l.now = func() time.Time { return now }
	for range 3 {
		if _, blocked := l.blocked("10.0.0.1"); blocked {
			t.Fatal("blocked before the limit")
		}
		l.fail("10.0.0.1")
	}
	wait, blocked := l.blocked("10.0.0.1")
	if !blocked || wait != time.Minute {
		t.Fatalf("after 3 failures: blocked %v for %v", blocked, wait)
	}
	if _, blocked := l.blocked("10.0.0.2"); blocked {
		t.Fatal("another address is blocked too")
	}
	now = now.Add(time.Minute)
	if _, blocked := l.blocked("10.0.0.1"); blocked {
		t.Fatal("still blocked after the window")
	}
}

func TestFailureLimiterMemoryIsBounded(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newFailureLimiter(3, time.Minute, 50)
	l.now = func() time.Time { return now }
	// A spread-out attack: each address guesses once.
	for i := range 10000 {
		l.fail("addr-" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + time.Duration(i).String())
	}
	if n := l.tracked(); n > 50 {
		t.Fatalf("%d addresses tracked, the cap is 50", n)
	}
	// The addresses past the cap share one window, which is now exhausted.
	if _, blocked := l.blocked("one-more"); !blocked {
		t.Fatal("the overflow window does not throttle")
	}
	// Once the windows are over, the table is swept and addresses get their own again.
	now = now.Add(2 * time.Minute)
	l.fail("fresh")
	if _, blocked := l.blocked("fresh"); blocked || l.tracked() != 1 {
		t.Fatalf("after the sweep: tracked %d", l.tracked())
	}
}

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
		{"https", "/idp", "__Secure-idplug_flow", "/idp/callback/acme", "__Secure-idplug_session", "/idp/"},
		{"http", "", "idplug_flow", "/callback/acme", "idplug_session", "/"},
		{"http", "/idp", "idplug_flow", "/idp/callback/acme", "idplug_session", "/idp/"},
	} {
		c := newCookiePolicy(tc.scheme, tc.prefix)
		f, s := c.flow("acme", "v", time.Minute), c.session("v", time.Minute)
		if f.Name != tc.flow || f.Path != tc.flowPath || s.Name != tc.session || s.Path != tc.sessionPath ||
			f.Secure != (tc.scheme == "https") || !f.HttpOnly || !s.HttpOnly {
			t.Errorf("%s %q: flow %s %s, session %s %s", tc.scheme, tc.prefix, f.Name, f.Path, s.Name, s.Path)
		}
	}
}

func TestClientAddr(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7:51234":                "192.0.2.7",
		"[::ffff:192.0.2.7]:1":           "192.0.2.7",
		"[2001:db8:1:2:aaaa::1]:443":     "2001:db8:1:2::/64",
		"[2001:db8:1:2:bbbb:cc::9]:1000": "2001:db8:1:2::/64",
		"@":                              "@",
	} {
		if got := clientAddr(in); got != want {
			t.Errorf("clientAddr(%q) = %q, want %q", in, got, want)
		}
	}
}
