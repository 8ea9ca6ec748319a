package main

import (
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var relayField = regexp.MustCompile(`name="relay" value="([^"]+)"`)

// TestFormPostCallback drives the form_post routes of the real idplug binary as a
// browser and as an attacker would: the provider's POST comes without the flow
// cookie and gets the relay page; the relay, posted with the cookie, signs in.
func TestFormPostCallback(t *testing.T) {
	p := startIdplug(t, pluginFolder(t, "example"), exampleConfig)
	const code = "ada-code-0123456789"
	var secrets []string // relays and states, which must never be logged

	// startFlow plays a browser starting a sign-in: it keeps the flow cookie and
	// returns the state the provider would send back.
	startFlow := func(t *testing.T) (*http.Client, string) {
		t.Helper()
		jar, _ := cookiejar.New(nil)
		browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := browser.Get(p.URL + "/sign-in/demo")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		secrets = append(secrets, loc.Query().Get("state"))
		return browser, loc.Query().Get("state")
	}
	// providerPost is the provider's cross-site POST: no cookies.
	providerPost := func(t *testing.T, contentType, body string) (int, string, http.Header) {
		t.Helper()
		resp, err := http.Post(p.URL+"/callback/demo", contentType, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	finish := func(t *testing.T, c *http.Client, path, relay string) *http.Response {
		t.Helper()
		resp, err := c.PostForm(p.URL+path, url.Values{"relay": {relay}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}

	t.Run("sign-in", func(t *testing.T) {
		browser, state := startFlow(t)
		status, page, header := providerPost(t, "application/x-www-form-urlencoded", url.Values{"code": {code}, "state": {state}}.Encode())
		mustEqual(t, "relay page status", status, 200)
		if strings.Contains(page, code) || strings.Contains(page, state) {
			t.Fatal("the relay page shows the code or the state in clear")
		}
		// No form-action: it would bind the redirects after the post too
		// (TestFormPostRelayThenARedirectToTheApp, host/server).
		if csp := header.Get("Content-Security-Policy"); strings.Contains(csp, "form-action") || !strings.Contains(csp, "script-src 'sha256-") || !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("Content-Security-Policy = %q", csp)
		}
		mustEqual(t, "Cache-Control", header.Get("Cache-Control"), "no-store")
		m := relayField.FindStringSubmatch(page)
		if m == nil || !strings.Contains(page, `action="/callback/demo/finish"`) {
			t.Fatalf("relay page = %s", page)
		}
		relay := html.UnescapeString(m[1])
		secrets = append(secrets, relay)
		resp := finish(t, browser, "/callback/demo/finish", relay)
		mustEqual(t, "finish status", resp.StatusCode, http.StatusFound)
		mustEqual(t, "finish redirect", resp.Header.Get("Location"), "/")
		user, err := browser.Get(p.URL + "/user")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(user.Body)
		user.Body.Close()
		if !strings.Contains(string(body), `"sub":"`+code+`"`) {
			t.Fatalf("/user = %s", body)
		}
		// The flow was one-time: the same relay again is refused.
		again := finish(t, browser, "/callback/demo/finish", relay)
		mustEqual(t, "replayed relay status", again.StatusCode, 400)
	})

	relayFor := func(t *testing.T, state string) string {
		t.Helper()
		_, page, _ := providerPost(t, "application/x-www-form-urlencoded", url.Values{"code": {code}, "state": {state}}.Encode())
		m := relayField.FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("no relay in %s", page)
		}
		secrets = append(secrets, html.UnescapeString(m[1]))
		return html.UnescapeString(m[1])
	}
	t.Run("relay without the flow cookie", func(t *testing.T) {
		_, state := startFlow(t)
		resp := finish(t, http.DefaultClient, "/callback/demo/finish", relayFor(t, state))
		mustEqual(t, "status", resp.StatusCode, 400)
	})
	t.Run("relay of another connector", func(t *testing.T) {
		browser, state := startFlow(t)
		resp := finish(t, browser, "/callback/other/finish", relayFor(t, state))
		mustEqual(t, "status", resp.StatusCode, 400)
	})
	t.Run("tampered relay", func(t *testing.T) {
		browser, state := startFlow(t)
		relay := relayFor(t, state)
		resp := finish(t, browser, "/callback/demo/finish", relay[:len(relay)-4]+"AAAA")
		mustEqual(t, "status", resp.StatusCode, 400)
	})
	t.Run("forged state", func(t *testing.T) {
		browser, _ := startFlow(t)
		resp := finish(t, browser, "/callback/demo/finish", relayFor(t, "forged-state"))
		mustEqual(t, "status", resp.StatusCode, 400)
	})
	t.Run("not a form", func(t *testing.T) {
		status, _, _ := providerPost(t, "application/json", `{"code":"x"}`)
		mustEqual(t, "status", status, 400)
	})
	t.Run("oversized", func(t *testing.T) {
		status, _, _ := providerPost(t, "application/x-www-form-urlencoded", "code="+strings.Repeat("a", 70000))
		mustEqual(t, "status", status, 413)
	})
	t.Run("too many fields", func(t *testing.T) {
		v := url.Values{}
		for i := range 40 {
			v.Set("f"+strings.Repeat("x", i), "1")
		}
		status, _, _ := providerPost(t, "application/x-www-form-urlencoded", v.Encode())
		mustEqual(t, "status", status, 400)
	})

	p.stop(t)
	if len(secrets) < 8 {
		t.Fatalf("only %d relays and states were checked", len(secrets))
	}
	// The example plugin signs in the code itself as the user's id (and logs the id),
	// so the code cannot be looked for; what carries it, the relay, can.
	for _, secret := range secrets {
		if strings.Contains(p.logs.String(), secret) {
			t.Errorf("the log holds a relay or a state %q...", secret[:8])
		}
	}
}
