package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
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
	flow := cookieOf(rec, srv.cookies.flowName())
	f.mu.Lock()
	state := f.request.State
	f.mu.Unlock()
	callback := "/callback/acme?code=c&state=" + url.QueryEscape(state)

	st.down.Store(true)
	rec = browserRequest(srv, "GET", callback, "", nil, flow)
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("store down: %d", rec.Code)
	}
	if c := cookieOf(rec, srv.cookies.flowName()); c != nil && c.MaxAge < 0 {
		t.Fatalf("the 503 store_unavailable answer deletes the flow cookie: %s", c)
	}
	st.down.Store(false)
	rec = browserRequest(srv, "GET", callback, "", nil, flow)
	if rec.Code != http.StatusFound || cookieOf(rec, srv.cookies.sessionName()) == nil {
		t.Fatalf("the same callback once the store is back: %d %s", rec.Code, rec.Body)
	}
	if c := cookieOf(rec, srv.cookies.flowName()); c == nil || c.MaxAge >= 0 {
		t.Errorf("a finished sign-in leaves its flow cookie: %v", c)
	}
	rec = browserRequest(srv, "GET", callback, "", nil, flow)
	if c := cookieOf(rec, srv.cookies.flowName()); rec.Code == http.StatusFound || c == nil || c.MaxAge >= 0 {
		t.Errorf("a replayed callback: %d, flow cookie %v; want an error page that clears it", rec.Code, c)
	}
}

// The OpenID Provider's prompt=login reaches the connector as ForceLogin, and
// the browser session it makes says so; a sign-in without it does not. The
// flag is sealed in the flow: the callback cannot add it.
func TestSignInWithPromptLoginIsForced(t *testing.T) {
	for _, forced := range []bool{true, false} {
		f := signingIn("ada")
		srv := newUnitServer(t, f, func(s *Settings) { s.Store = sqliteStore(t) })
		path := "/sign-in/acme?returnTo=%2F"
		if forced {
			path += "&prompt=login"
		}
		rec := browserRequest(srv, "GET", path, "", nil)
		f.mu.Lock()
		state, asked := f.request.State, f.request.ForceLogin
		f.mu.Unlock()
		if asked != forced {
			t.Errorf("prompt=login %v: the connector was asked ForceLogin %v", forced, asked)
		}
		flow := cookieOf(rec, srv.cookies.flowName())
		rec = browserRequest(srv, "GET", "/callback/acme?prompt=login&code=c&state="+url.QueryEscape(state), "", nil, flow)
		session := cookieOf(rec, srv.cookies.sessionName())
		if rec.Code != http.StatusFound || session == nil {
			t.Fatalf("callback: %d %s", rec.Code, rec.Body)
		}
		r := httptest.NewRequest(http.MethodGet, "/user", nil)
		r.AddCookie(session)
		login, ok := srv.ProviderBrowser().SignedIn(r)
		if !ok || login.Forced != forced {
			t.Errorf("prompt=login %v: the browser's sign-in %+v (%v); want Forced %v", forced, login, ok, forced)
		}
	}
}
