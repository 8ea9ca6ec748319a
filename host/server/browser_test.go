package server

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idplug/idplug/host/store"
)

// downStore is a store whose flow consumption fails as a database that does
// not answer does, while down is set.
type downStore struct {
	store.Store
	down atomic.Bool
}

func (d *downStore) ConsumeFlow(ctx context.Context, id string, expires time.Time) error {
	if d.down.Load() {
		return store.ErrUnavailable
	}
	return d.Store.ConsumeFlow(ctx, id, expires)
}

// A store that does not answer fails the callback closed with 503
// store_unavailable, and the flow stays usable: the flow cookie was cleared
// before the store was asked, so once the store was back the same callback (the
// browser's reload) was session_invalid, though nothing had been spent. A
// callback the store refuses as used still clears it.
func TestBrowserFlowStaysUsableWhenTheStoreIsDown(t *testing.T) {
	f := signingIn("ada")
	st := &downStore{Store: sqliteStore(t)}
	srv := newUnitServer(t, f, func(s *Settings) { s.Store = st })

	rec := browserRequest(srv, "GET", "/sign-in/acme", "", nil)
	flow := flowCookieOf(srv, rec)
	f.mu.Lock()
	state := f.request.State
	f.mu.Unlock()
	flowName := srv.cookies.flowName(flowSlot(state))
	callback := "/callback/acme?code=c&state=" + url.QueryEscape(state)

	st.down.Store(true)
	rec = browserRequest(srv, "GET", callback, "", nil, flow)
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("store down: %d", rec.Code)
	}
	if c := cookieOf(rec, flowName); c != nil && c.MaxAge < 0 {
		t.Fatalf("the 503 store_unavailable answer deletes the flow cookie: %s", c)
	}
	st.down.Store(false)
	rec = browserRequest(srv, "GET", callback, "", nil, flow)
	if rec.Code != http.StatusFound || cookieOf(rec, srv.cookies.sessionName()) == nil {
		t.Fatalf("the same callback once the store is back: %d %s", rec.Code, rec.Body)
	}
	if c := cookieOf(rec, flowName); c == nil || c.MaxAge >= 0 {
		t.Errorf("a finished sign-in leaves its flow cookie: %v", c)
	}
	rec = browserRequest(srv, "GET", callback, "", nil, flow)
	if c := cookieOf(rec, flowName); rec.Code == http.StatusFound || c == nil || c.MaxAge >= 0 {
		t.Errorf("a replayed callback: %d, flow cookie %v; want an error page that clears it", rec.Code, c)
	}
}

// revokeDownStore fails RevokeSession while down is set.
type revokeDownStore struct {
	store.Store
	down atomic.Bool
}

func (d *revokeDownStore) RevokeSession(ctx context.Context, id string) error {
	if d.down.Load() {
		return store.ErrUnavailable
	}
	return d.Store.RevokeSession(ctx, id)
}

// A sign-out the store cannot record keeps the browser's session cookie, so
// that the person's retry revokes the session: the failed sign-out had
// cleared it, the retry then found nothing to revoke and answered as if it
// had signed out, and any copy of the cookie (a stolen one, another device's)
// signed in for the rest of session_ttl. So for the sign-out page's button
// and for the OpenID Provider's end_session.
func TestSignOutTheStoreCannotRecordKeepsTheCookie(t *testing.T) {
	f := signingIn("ada")
	st := &revokeDownStore{Store: sqliteStore(t)}
	srv := newUnitServer(t, f, func(s *Settings) { s.Store = st })
	same := map[string]string{"Sec-Fetch-Site": "same-origin"}
	signOuts := map[string]func(session *http.Cookie) *httptest.ResponseRecorder{
		"the sign-out button": func(session *http.Cookie) *httptest.ResponseRecorder {
			return browserRequest(srv, "POST", "/sign-out", "", same, session)
		},
		"the provider's end_session": func(session *http.Cookie) *httptest.ResponseRecorder {
			rec := httptest.NewRecorder()
			r := httptest.NewRequest("POST", "/oidc/end_session", nil)
			r.AddCookie(session)
			if err := srv.ProviderBrowser().SignOut(rec, r); err != nil {
				rec.Code = http.StatusServiceUnavailable
			}
			return rec
		},
	}
	for name, signOut := range signOuts {
		t.Run(name, func(t *testing.T) {
			session := browserSignIn(t, srv, f)
			st.down.Store(true)
			rec := signOut(session)
			st.down.Store(false)
			if rec.Code != http.StatusServiceUnavailable {
				t.Fatalf("a sign-out with the store down: %d", rec.Code)
			}
			if c := cookieOf(rec, srv.cookies.sessionName()); c != nil {
				t.Fatalf("the failed sign-out clears the session cookie (%s): the retry could revoke nothing", c)
			}
			if ok, _ := signedInAs(t, srv, session); !ok {
				t.Fatal("the session ended though the store never recorded it")
			}
			rec = signOut(session)
			if c := cookieOf(rec, srv.cookies.sessionName()); rec.Code >= 400 || c == nil || c.MaxAge >= 0 {
				t.Fatalf("the retry: %d, cookie %v; want the session ended and its cookie cleared", rec.Code, c)
			}
			if ok, id := signedInAs(t, srv, session); ok {
				t.Fatalf("after the retry a copy of the cookie still signs in as %q", id)
			}
		})
	}
}

// A callback's parameters are bounded, by query as by form_post: a provider
// sends a handful, and each value is work for the plugin (the Logto bridge
// keeps every one out of what it says, over the whole message: thousands of
// short ones held its Node for seconds). Past the bound the callback is 400,
// before any plugin call, and the flow stays usable for the real callback.
func TestCallbackParametersAreBounded(t *testing.T) {
	f := signingIn("ada")
	srv := newUnitServer(t, f, nil)
	rec := browserRequest(srv, "GET", "/sign-in/acme", "", nil)
	flow := flowCookieOf(srv, rec)
	f.mu.Lock()
	state := f.request.State
	f.mu.Unlock()
	q := url.Values{"state": {state}, "code": {"c"}}
	for i := range maxCallbackFields - 1 {
		q.Set(fmt.Sprintf("x%d", i), "abc")
	}
	rec = browserRequest(srv, "GET", "/callback/acme?"+q.Encode(), "", nil, flow)
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "the callback has more than 32 parameters") {
		t.Fatalf("a callback of %d parameters: %d %.300s", len(q), rec.Code, rec.Body)
	}
	for _, call := range f.called() {
		if call == "UserInfo" {
			t.Fatal("the plugin was called with the oversized callback")
		}
	}
	rec = browserRequest(srv, "GET", "/callback/acme?"+url.Values{"state": {state}, "code": {"c"}}.Encode(), "", nil, flow)
	if rec.Code != http.StatusFound || cookieOf(rec, srv.cookies.sessionName()) == nil {
		t.Fatalf("the real callback afterwards: %d %.300s", rec.Code, rec.Body)
	}
}
