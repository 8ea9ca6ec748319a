package server

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/idplug/idplug/host/seal"
)

var (
	relayIDField = regexp.MustCompile(`name="relay_id" value="([^"]+)"`)
	relayFields  = regexp.MustCompile(`name="relay" value="([^"]+)"`)
)

// relayPageOf is what a relay page posts to /finish.
func relayPageOf(t *testing.T, body string) url.Values {
	t.Helper()
	form := url.Values{}
	if m := relayIDField.FindStringSubmatch(body); m != nil {
		form.Set("relay_id", html.UnescapeString(m[1]))
	}
	for _, m := range relayFields.FindAllStringSubmatch(body, -1) {
		form.Add("relay", html.UnescapeString(m[1]))
	}
	if len(form["relay"]) == 0 {
		t.Fatalf("no relay in the page: %.300s", body)
	}
	return form
}

// startFormPostFlow starts a browser sign-in with acme: its flow cookie and
// the state the provider sends back.
func startFormPostFlow(t *testing.T, srv *Server, f *fakeInstances) (*http.Cookie, string) {
	t.Helper()
	rec := browserRequest(srv, "GET", "/sign-in/acme", "", nil)
	if rec.Code != http.StatusFound {
		t.Fatalf("sign-in: %d", rec.Code)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return flowCookieOf(srv, rec), f.request.State
}

var formHeader = map[string]string{"Content-Type": "application/x-www-form-urlencoded"}

// A form_post callback larger than one sealed token (about 6 KB) but within
// the body cap, like Entra ID's id_token with the user's groups, failed with a
// 500 naming no field, while the same parameters worked as a GET callback. It
// is relayed in parts, and reaches the plugin whole.
func TestFormPostCallbackLargerThanOneTokenIsRelayedInParts(t *testing.T) {
	f := signingIn("ada")
	srv := newUnitServer(t, f, nil)
	for _, size := range []int{seal.MaxPayloadLen + 1000, 40000, 60000} {
		flow, state := startFormPostFlow(t, srv, f)
		idToken := strings.Repeat("eyJhbGciOiJSUzI1NiJ9.", size/21)
		posted := url.Values{"code": {"code-0123456789"}, "state": {state}, "id_token": {idToken}}
		rec := browserRequest(srv, "POST", "/callback/acme", posted.Encode(), formHeader)
		if rec.Code != http.StatusOK {
			t.Fatalf("a %d-byte form_post callback: %d %s", len(posted.Encode()), rec.Code, pageError(rec.Body.String()))
		}
		page := rec.Body.String()
		if strings.Contains(page, "code-0123456789") || strings.Contains(page, state) || strings.Contains(page, "eyJhbGci") {
			t.Fatal("the relay page shows a parameter in clear")
		}
		relay := relayPageOf(t, page)
		if len(relay["relay"]) < 2 || relay.Get("relay_id") == "" {
			t.Fatalf("a %d-byte callback relayed in %d token(s)", len(posted.Encode()), len(relay["relay"]))
		}
		rec = browserRequest(srv, "POST", "/callback/acme/finish", relay.Encode(), formHeader, flow)
		if rec.Code != http.StatusFound {
			t.Fatalf("finish: %d %s", rec.Code, pageError(rec.Body.String()))
		}
		f.mu.Lock()
		got := f.data
		f.mu.Unlock()
		if got["id_token"] != idToken || got["code"] != "code-0123456789" || got["state"] != state {
			t.Fatalf("the plugin got id_token of %d bytes (sent %d), code %q", len(got["id_token"]), len(idToken), got["code"])
		}
	}
}

// A callback that fits one token is relayed as one, as before parts existed:
// a relay page from a replica of the previous release finishes here, and
// this one's there.
func TestFormPostSmallCallbackIsOneToken(t *testing.T) {
	f := signingIn("ada")
	srv := newUnitServer(t, f, nil)
	flow, state := startFormPostFlow(t, srv, f)
	rec := browserRequest(srv, "POST", "/callback/acme", url.Values{"code": {"c"}, "state": {state}}.Encode(), formHeader)
	relay := relayPageOf(t, rec.Body.String())
	if len(relay["relay"]) != 1 || relay.Has("relay_id") {
		t.Fatalf("a small callback relayed as %v", relay)
	}
	// The previous release's token: the same parameters, sealed whole.
	old, err := srv.sealJSON(formPostPurpose("acme"), map[string]string{"code": "c", "state": state}, formPostRelayTTL)
	if err != nil {
		t.Fatal(err)
	}
	rec = browserRequest(srv, "POST", "/callback/acme/finish", url.Values{"relay": {old}}.Encode(), formHeader, flow)
	if rec.Code != http.StatusFound {
		t.Fatalf("finish of a one-token relay: %d %s", rec.Code, pageError(rec.Body.String()))
	}
}

// A relay's parts open only together, in order, in their own relay: a part
// dropped, moved, or taken from another callback (an attacker's own, with
// their code) is refused, and the browser's sign-in is not spent by it.
func TestFormPostRelayPartsCannotBeRearranged(t *testing.T) {
	f := signingIn("ada")
	srv := newUnitServer(t, f, nil)
	flow, state := startFormPostFlow(t, srv, f)
	relayOf := func(code string) url.Values {
		posted := url.Values{"code": {code}, "state": {state}, "id_token": {strings.Repeat("x", 3*seal.MaxPayloadLen)}}
		rec := browserRequest(srv, "POST", "/callback/acme", posted.Encode(), formHeader)
		return relayPageOf(t, rec.Body.String())
	}
	mine, theirs := relayOf("mine"), relayOf("attackers")
	if len(mine["relay"]) != 4 {
		t.Fatalf("relayed in %d parts", len(mine["relay"]))
	}
	with := func(id string, parts ...string) url.Values { return url.Values{"relay_id": {id}, "relay": parts} }
	m, a := mine["relay"], theirs["relay"]
	for name, form := range map[string]url.Values{
		"a part dropped":             with(mine.Get("relay_id"), m[0], m[1], m[2]),
		"the last part dropped":      with(mine.Get("relay_id"), m[:3]...),
		"parts swapped":              with(mine.Get("relay_id"), m[1], m[0], m[2], m[3]),
		"a part repeated":            with(mine.Get("relay_id"), m[0], m[0], m[2], m[3]),
		"another relay's first part": with(mine.Get("relay_id"), a[0], m[1], m[2], m[3]),
		"another relay's id":         with(theirs.Get("relay_id"), m...),
		"no relay id":                {"relay": m},
		"a relay id that is not one": with(mine.Get("relay_id")+":0/4", m...),
		"a part altered":             with(mine.Get("relay_id"), m[0], m[1], m[2], m[3][:len(m[3])-4]+"AAAA"),
	} {
		rec := browserRequest(srv, "POST", "/callback/acme/finish", form.Encode(), formHeader, flow)
		if rec.Code != http.StatusBadRequest {
			t.Errorf("%s: %d %s", name, rec.Code, pageError(rec.Body.String()))
		}
	}
	if calls := f.called(); strings.Contains(strings.Join(calls, " "), "UserInfo") {
		t.Fatalf("a rearranged relay reached the plugin: %v", calls)
	}
	rec := browserRequest(srv, "POST", "/callback/acme/finish", mine.Encode(), formHeader, flow)
	if rec.Code != http.StatusFound {
		t.Fatalf("the genuine relay after the refused ones: %d %s", rec.Code, pageError(rec.Body.String()))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.data["code"] != "mine" {
		t.Fatalf("signed in with code %q", f.data["code"])
	}
}

// A callback beyond what can be relayed is the sender's 413, saying what is
// too large, never a 500: a body over the cap, or parameters whose JSON is
// over twice it (control characters, which JSON writes in six bytes).
func TestFormPostCallbackTooLargeSaysWhat(t *testing.T) {
	srv := newUnitServer(t, signingIn("ada"), nil)
	for name, tc := range map[string]struct{ body, message string }{
		"body over the cap": {"code=" + strings.Repeat("a", 70000),
			"the callback's body is over 65536 bytes"},
		"parameters over the relay's cap": {"state=s&code=c&user=" + strings.Repeat("\x01", 60000),
			"the callback's parameters are too large to relay: 360034 bytes, the limit is 131072 (the largest is user, 60000 bytes)"},
	} {
		rec := browserRequest(srv, "POST", "/callback/acme", tc.body, formHeader)
		if rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(html.UnescapeString(rec.Body.String()), tc.message) {
			t.Errorf("%s: %d %s", name, rec.Code, pageError(rec.Body.String()))
		}
	}
}

// pageError is the error code and message of an error page, for failures.
func pageError(body string) string {
	i := strings.Index(body, `id="error-code">`)
	if i < 0 {
		return ""
	}
	rest := body[i:]
	j := strings.Index(rest, "<a ")
	if j < 0 {
		j = len(rest)
	}
	return strings.Join(strings.Fields(rest[:j]), " ")
}
