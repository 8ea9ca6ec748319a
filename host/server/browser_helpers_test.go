package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/host/store"
	"github.com/idplug/idplug/sdk"
)

// togglingInstances is fakeInstances whose one connector an operator can
// remove and configure again (a reload).
type togglingInstances struct {
	*fakeInstances
	removed atomic.Bool
}

func (t *togglingInstances) Instances() []host.Instance {
	if t.removed.Load() {
		return nil
	}
	return t.fakeInstances.Instances()
}

func (t *togglingInstances) UserInfo(ctx context.Context, id string, session sdk.Session, callback map[string]string) (*host.UserInfoResult, error) {
	if err := t.CheckInstance(id); err != nil {
		return nil, err
	}
	return t.fakeInstances.UserInfo(ctx, id, session, callback)
}

func (t *togglingInstances) CheckInstance(id string) error {
	_, err := t.Instance(id)
	return err
}

func (t *togglingInstances) Instance(id string) (host.InstanceDetail, error) {
	if t.removed.Load() {
		return host.InstanceDetail{}, &sdk.Error{Code: host.CodeInstanceNotFound, Message: "no connector"}
	}
	return t.fakeInstances.Instance(id)
}

// signingIn is a connector whose sign-ins all succeed as userID.
func signingIn(userID string) *fakeInstances {
	return &fakeInstances{
		auth:     &sdk.Authorization{RedirectTo: "https://acme.test/authorize", Session: sdk.Session{"k": "v"}},
		userInfo: &sdk.UserInfoResult{UserInfo: sdk.UserInfo{ID: userID}},
	}
}

// sqliteStore is a real store in a fresh SQLite file, closed by the test.
func sqliteStore(t *testing.T) store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "idplug.db"), store.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// browserRequest sends a browser request with the cookies given.
func browserRequest(srv http.Handler, method, target string, body string, header map[string]string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	var req *http.Request
	if body != "" {
		req = httptest.NewRequest(method, target, strings.NewReader(body))
	} else {
		req = httptest.NewRequest(method, target, nil)
	}
	req.RemoteAddr = "192.0.2.10:40000"
	for k, v := range header {
		req.Header.Set(k, v)
	}
	for _, c := range cookies {
		if c != nil {
			req.AddCookie(c)
		}
	}
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	return rec
}

// flowCookieOf is the flow cookie a sign-in's answer set, whichever its slot.
func flowCookieOf(srv *Server, rec *httptest.ResponseRecorder) *http.Cookie {
	for _, c := range rec.Result().Cookies() {
		if _, ok := srv.cookies.flowSlotOf(c.Name); ok && c.MaxAge > 0 {
			return c
		}
	}
	return nil
}

func cookieOf(rec *httptest.ResponseRecorder, name string) *http.Cookie {
	for _, c := range rec.Result().Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// browserSignIn signs a browser in with acme, and returns its session cookie.
func browserSignIn(t *testing.T, srv *Server, f *fakeInstances) *http.Cookie {
	t.Helper()
	rec := browserRequest(srv, "GET", "/sign-in/acme", "", nil)
	if rec.Code != http.StatusFound {
		t.Fatalf("sign-in: %d %s", rec.Code, rec.Body)
	}
	flow := flowCookieOf(srv, rec)
	f.mu.Lock()
	state := f.request.State
	f.mu.Unlock()
	rec = browserRequest(srv, "GET", "/callback/acme?code=c&state="+url.QueryEscape(state), "", nil, flow)
	if rec.Code != http.StatusFound {
		t.Fatalf("callback: %d %s", rec.Code, rec.Body)
	}
	session := cookieOf(rec, srv.cookies.sessionName())
	if session == nil {
		t.Fatal("no session cookie")
	}
	return session
}

func signedInAs(t *testing.T, srv http.Handler, session *http.Cookie) (bool, string) {
	t.Helper()
	rec := browserRequest(srv, "GET", "/user", "", nil, session)
	var body struct {
		IsAuthenticated bool `json:"isAuthenticated"`
		UserInfo        struct {
			ID string `json:"id"`
		} `json:"userInfo"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	return body.IsAuthenticated, body.UserInfo.ID
}
