package server

import (
	"context"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/sdk"
)

var beta = host.Instance{ID: "beta", Plugin: "oauth2", Target: "beta-id", Platform: sdk.PlatformUniversal,
	Name: sdk.I18n{"en": "Beta"}, IsStandard: true}

// flowInstances is a host of two connectors, acme and beta, whose plugin
// keeps a flow as a real one does: its session names the connector and the
// state it was made for, and a callback of another sign-in is refused. Its
// authorization URL is provider's, with the state and redirect URI in the
// query. Every sign-in finished is recorded as "connector state".
type flowInstances struct {
	*fakeInstances
	provider string
	// pad makes each session this many bytes larger, and so its flow cookie.
	pad int

	finishedMu sync.Mutex
	finished   []string
}

func newFlowInstances(provider string) *flowInstances {
	return &flowInstances{fakeInstances: signingIn("unused"), provider: provider}
}

func (f *flowInstances) Instances() []host.Instance { return []host.Instance{acme.Instance, beta} }

func (f *flowInstances) Instance(id string) (host.InstanceDetail, error) {
	if id == beta.ID {
		return host.InstanceDetail{Instance: beta}, nil
	}
	return f.fakeInstances.Instance(id)
}

func (f *flowInstances) CheckInstance(id string) error {
	_, err := f.Instance(id)
	return err
}

func (f *flowInstances) TokensProvider(id string) (string, error) { return "", f.CheckInstance(id) }

func (f *flowInstances) AuthorizationURI(_ context.Context, id, redirectURI, state string, _ ...host.AuthorizationOption) (*sdk.Authorization, error) {
	if err := f.CheckInstance(id); err != nil {
		return nil, err
	}
	q := url.Values{"state": {state}, "redirect_uri": {redirectURI}}
	return &sdk.Authorization{RedirectTo: f.provider + "?" + q.Encode(),
		Session: sdk.Session{"connector": id, "state": state, "pad": strings.Repeat("p", f.pad)}}, nil
}

func (f *flowInstances) UserInfo(_ context.Context, id string, session sdk.Session, callback map[string]string) (*host.UserInfoResult, error) {
	f.record("UserInfo")
	if session["connector"] != id || session["state"] != callback["state"] {
		return nil, &sdk.Error{Code: sdk.CodeInvalidRequestParameters, Message: "the callback is another sign-in's"}
	}
	f.finishedMu.Lock()
	f.finished = append(f.finished, id+" "+callback["state"])
	f.finishedMu.Unlock()
	return &host.UserInfoResult{UserInfoResult: sdk.UserInfoResult{UserInfo: sdk.UserInfo{ID: callback["code"]}}}, nil
}

func (f *flowInstances) hasFinished(id, state string) bool {
	f.finishedMu.Lock()
	defer f.finishedMu.Unlock()
	return slices.Contains(f.finished, id+" "+state)
}

// jarBrowser is one browser's cookies in front of a server: each request
// carries what the jar holds for its URL, and the jar keeps what the answer
// sets (a Go jar lists the cookies of one path oldest first, as browsers do).
type jarBrowser struct {
	srv  http.Handler
	base string // the public URL
	jar  *cookiejar.Jar
}

func newJarBrowser(srv http.Handler, base string) *jarBrowser {
	jar, _ := cookiejar.New(nil)
	return &jarBrowser{srv: srv, base: base, jar: jar}
}

// get sends GET path (below the public URL's path, with its query), as the
// browser would.
func (b *jarBrowser) get(path string) *httptest.ResponseRecorder {
	u, err := url.Parse(b.base + path)
	if err != nil {
		panic(err)
	}
	rec := browserRequest(b.srv, "GET", u.RequestURI(), "", nil, b.jar.Cookies(u)...)
	b.jar.SetCookies(u, rec.Result().Cookies())
	return rec
}

// startSignIn starts a sign-in with connector id, returning to returnTo, and
// returns its state.
func (b *jarBrowser) startSignIn(t *testing.T, id, returnTo string) string {
	t.Helper()
	rec := b.get("/sign-in/" + id + "?returnTo=" + url.QueryEscape(returnTo))
	loc, err := url.Parse(rec.Header().Get("Location"))
	if rec.Code != http.StatusFound || err != nil || loc.Query().Get("state") == "" {
		t.Fatalf("sign-in with %s: %d, Location %q: %.300s", id, rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	return loc.Query().Get("state")
}

// callback comes back from the provider to connector id's callback with state.
func (b *jarBrowser) callback(id, code, state string) *httptest.ResponseRecorder {
	return b.get("/callback/" + id + "?code=" + url.QueryEscape(code) + "&state=" + url.QueryEscape(state))
}

// flowCookies are the names of the flow cookies the jar holds for the public URL.
func (b *jarBrowser) flowCookies(c cookiePolicy) []string {
	u, _ := url.Parse(b.base + "/")
	var names []string
	for _, ck := range b.jar.Cookies(u) {
		if _, ok := c.flowSlotOf(ck.Name); ok {
			names = append(names, ck.Name)
		}
	}
	return names
}

// cookieNamed is the last cookie named name: an answer that gives a sign-in
// the oldest flow's slot clears that cookie, then sets it, and the browser
// keeps what it set last.
func cookieNamed(cookies []*http.Cookie, name string) *http.Cookie {
	var last *http.Cookie
	for _, c := range cookies {
		if c.Name == name {
			last = c
		}
	}
	return last
}

// setCookies lists the cookies an answer set or cleared, by name.
func setCookies(rec *httptest.ResponseRecorder) []string {
	var names []string
	for _, c := range rec.Result().Cookies() {
		names = append(names, c.Name)
	}
	return names
}

// follow follows the redirects of rec that stay on this site, and returns
// the first answer that leaves it or is no redirect.
func (b *jarBrowser) follow(rec *httptest.ResponseRecorder) *httptest.ResponseRecorder {
	for i := 0; i < 10 && rec.Code >= 300 && rec.Code < 400; i++ {
		loc := rec.Header().Get("Location")
		if !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") {
			break
		}
		u, _ := url.Parse(b.base)
		rec = b.get(strings.TrimPrefix(loc, u.Path))
	}
	return rec
}

// namesOf names the cookies, with their lengths: never their values, sealed
// flows and sessions.
func namesOf(cookies []*http.Cookie) []string {
	out := make([]string, len(cookies))
	for i, c := range cookies {
		out[i] = fmt.Sprintf("%s (%d bytes, max-age %d)", c.Name, len(c.Value), c.MaxAge)
	}
	return out
}
