package server

import (
	"context"
	"net/http"
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
