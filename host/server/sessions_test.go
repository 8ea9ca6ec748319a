package server

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/host/mapping"
	"github.com/idplug/idplug/host/store"
	"github.com/idplug/idplug/sdk"
)

// A connector the operator removes (found hostile, say) signs its users out at
// once. Its sessions were only hidden while the id was absent: configuring the
// id again (the plugin fixed, a connector disabled for a while) brought every
// session it made back, with a store as without, for the rest of their
// session_ttl, and the OpenID Provider's single sign-on with them
// (providerBrowser.SignedIn reads the same sessions). A session made after it
// came back serves.
func TestRemovedConnectorsSessionsStaySignedOutWhenItComesBack(t *testing.T) {
	eachStore(t, func(t *testing.T, withStore func(*Settings), stored bool) {
		f := signingIn("admin") // what the hostile plugin said
		inst := &togglingInstances{fakeInstances: f}
		srv := newUnitServer(t, inst, withStore)
		mustSetConnectors(t, srv, []string{"acme", "other"})
		session := browserSignIn(t, srv, f)
		if ok, id := signedInAs(t, srv, session); !ok || id != "admin" {
			t.Fatalf("not signed in: %v %q", ok, id)
		}
		inst.removed.Store(true) // the reload that removes the connector
		mustSetConnectors(t, srv, []string{"other"})
		if ok, _ := signedInAs(t, srv, session); ok {
			t.Fatal("still signed in with the removed connector")
		}
		inst.removed.Store(false) // configured again, later
		mustSetConnectors(t, srv, []string{"acme", "other"})
		if ok, id := signedInAs(t, srv, session); ok {
			t.Fatalf("the session made by the removed connector is signed in again, as %q", id)
		}
		// A reload that keeps the connector signs no one out.
		fresh := browserSignIn(t, srv, f)
		mustSetConnectors(t, srv, []string{"acme"})
		if ok, id := signedInAs(t, srv, fresh); !ok || id != "admin" {
			t.Fatalf("a session made after the connector came back: signed in %v as %q", ok, id)
		}
	})
}

// The removal outlives the process that saw it. A restart between the removal
// and the return (a reload that removed the connector, or a start with a
// configuration without it) had forgotten it, and the sessions it made came
// back. With a store the removal is recorded there; a restart is a new Server
// on the same database, as a replica is.
func TestRemovedConnectorsSessionsStaySignedOutAfterARestart(t *testing.T) {
	for _, how := range []string{"removed by a reload", "removed at a start"} {
		t.Run(how, func(t *testing.T) {
			st := sqliteStore(t)
			f := signingIn("admin")
			inst := &togglingInstances{fakeInstances: f}
			start := func(ids ...string) *Server {
				srv := newUnitServer(t, inst, func(s *Settings) { s.Store = st })
				mustSetConnectors(t, srv, ids)
				return srv
			}
			srv := start("acme", "other")
			session := browserSignIn(t, srv, f)
			if ok, _ := signedInAs(t, srv, session); !ok {
				t.Fatal("not signed in")
			}
			inst.removed.Store(true)
			if how == "removed by a reload" {
				mustSetConnectors(t, srv, []string{"other"})
			} else {
				start("other") // the process stopped; it starts without acme
			}
			inst.removed.Store(false)
			srv = start("acme", "other") // started again, acme back
			if ok, id := signedInAs(t, srv, session); ok {
				t.Fatalf("after a restart, the session made by the removed connector is signed in again, as %q", id)
			}
			fresh := browserSignIn(t, srv, f)
			if ok, _ := signedInAs(t, start("acme"), fresh); !ok {
				t.Fatal("a session made after the connector came back does not serve after a restart")
			}
		})
	}
}

// A store that fails when the list is set: the process's own removals still
// hold, and the error says what was not kept.
func TestSetConnectorsWithTheStoreDown(t *testing.T) {
	f := signingIn("admin")
	inst := &togglingInstances{fakeInstances: f}
	down := &connectorsDown{Store: sqliteStore(t)}
	srv := newUnitServer(t, inst, func(s *Settings) { s.Store = down })
	mustSetConnectors(t, srv, []string{"acme"})
	session := browserSignIn(t, srv, f)
	down.failing = true
	inst.removed.Store(true)
	err := srv.SetConnectors(t.Context(), []string{"other"})
	if err == nil || !strings.Contains(err.Error(), "the store did not record which connectors are configured") {
		t.Fatalf("SetConnectors with the store down: %v", err)
	}
	inst.removed.Store(false)
	_ = srv.SetConnectors(t.Context(), []string{"acme"})
	if ok, _ := signedInAs(t, srv, session); ok {
		t.Fatal("with the store down, the removed connector's session is signed in again")
	}
}

type connectorsDown struct {
	store.Store
	failing bool
}

func (d *connectorsDown) ConnectorsConfigured(ctx context.Context, ids []string, now time.Time) (map[string]int64, error) {
	if d.failing {
		return nil, fmt.Errorf("%w: connectors: connection refused", store.ErrUnavailable)
	}
	return d.Store.ConnectorsConfigured(ctx, ids, now)
}

func mustSetConnectors(t *testing.T, srv *Server, ids []string) {
	t.Helper()
	if err := srv.SetConnectors(t.Context(), ids); err != nil {
		t.Fatal(err)
	}
}

// movingInstances is fakeInstances whose one connector a reload can point
// at another provider, or give another target.
type movingInstances struct {
	*fakeInstances
	mu               sync.Mutex
	target, provider string
}

func (m *movingInstances) moveTo(target, provider string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.target, m.provider = target, provider
}

func (m *movingInstances) Instance(id string) (host.InstanceDetail, error) {
	d, err := m.fakeInstances.Instance(id)
	m.mu.Lock()
	defer m.mu.Unlock()
	d.Target = m.target
	return d, err
}

func (m *movingInstances) TokensProvider(id string) (string, error) {
	if _, err := m.Instance(id); err != nil {
		return "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return "oauth2\n" + m.provider, nil
}

// A reload that points a connector id at another provider (another tenant,
// issuer or client) or gives it another target kept the browser sessions it
// had made: /user went on showing the old provider's user under the
// connector, and the OpenID Provider's single sign-on went on issuing codes
// for them, with the sub of the same user id at the new provider, another
// person there. Such sessions are signed out; a reload that leaves the
// provider and the target as they were signs no one out, nor does a plugin
// that starts naming its provider.
func TestSessionsEndWhenTheirConnectorSignsInElsewhere(t *testing.T) {
	eachStore(t, func(t *testing.T, withStore func(*Settings), stored bool) {
		f := signingIn("alice")
		inst := &movingInstances{fakeInstances: f, target: "acme", provider: "https://a.test/token client-1"}
		srv := newUnitServer(t, inst, withStore)
		mustSetConnectors(t, srv, []string{"acme"})
		req := func(session *http.Cookie) *http.Request {
			r := httptest.NewRequest("GET", "/oidc/authorize", nil)
			r.AddCookie(session)
			return r
		}
		for _, move := range []struct{ what, target, provider string }{
			{"another provider", "acme", "https://b.test/token client-1"},
			{"another client at the provider", "acme", "https://a.test/token client-2"},
			{"another target", "acme-b", "https://a.test/token client-1"},
		} {
			inst.moveTo("acme", "https://a.test/token client-1")
			session := browserSignIn(t, srv, f)
			inst.moveTo("acme", "https://a.test/token client-1") // a reload that changes a secret
			mustSetConnectors(t, srv, []string{"acme"})
			if ok, id := signedInAs(t, srv, session); !ok || id != "alice" {
				t.Fatalf("a reload that moves nothing signed alice out: %v %q", ok, id)
			}
			inst.moveTo(move.target, move.provider)
			mustSetConnectors(t, srv, []string{"acme"})
			if ok, id := signedInAs(t, srv, session); ok {
				t.Errorf("%s: the session made at the old one still serves, as %q", move.what, id)
			}
			if l, ok := srv.ProviderBrowser().SignedIn(req(session)); ok {
				t.Errorf("%s: single sign-on still vouches for %q, now at target %s", move.what, l.UserInfo.ID, l.Target)
			}
			if ok, id := signedInAs(t, srv, browserSignIn(t, srv, f)); !ok || id != "alice" {
				t.Errorf("%s: a sign-in made at the new one does not serve: %v %q", move.what, ok, id)
			}
		}
		// A plugin upgraded to one that names its provider keeps the
		// sessions it made before, as the vault keeps their tokens.
		inst.moveTo("acme", "")
		session := browserSignIn(t, srv, f)
		inst.moveTo("acme", "https://a.test/token client-1")
		mustSetConnectors(t, srv, []string{"acme"})
		if ok, id := signedInAs(t, srv, session); !ok || id != "alice" {
			t.Errorf("a session made before the plugin named its provider: %v %q", ok, id)
		}
		if stored {
			return
		}
		// A session made before sessions named their source serves on.
		sealed, err := srv.sealJSON(userSessionPurpose, userSession{Connector: "acme", UserInfo: sdk.UserInfo{ID: "bob"},
			AuthTime: time.Now().UnixMilli()}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if ok, id := signedInAs(t, srv, srv.cookies.session(sealed, time.Hour)); !ok || id != "bob" {
			t.Errorf("a session without its source: %v %q", ok, id)
		}
	})
}

// An operator who adds an allow rule to lock a user out (or changes what a
// profile maps to) had the new mapping applied to new sign-ins only: a browser
// signed in before kept /user and the OpenID Provider's single sign-on, with
// the profile the old mapping made, for up to the session's lifetime. A
// session names the mapping that made it; a reload that changes the mapping
// signs it out, one that compiles the same expressions again does not.
func TestSessionsEndWhenTheirConnectorsMappingChanges(t *testing.T) {
	compile := func(spec mapping.Spec) *mapping.Mapping {
		t.Helper()
		m, err := mapping.Compile(spec)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	greeting := mapping.Spec{Fields: map[string]string{"name": `"Hello, " + profile.id`}}
	eachStore(t, func(t *testing.T, withStore func(*Settings), stored bool) {
		f := signingIn("alice")
		f.setMapping(compile(greeting))
		srv := newUnitServer(t, f, withStore)
		mustSetConnectors(t, srv, []string{"acme"})
		session := browserSignIn(t, srv, f)
		f.setMapping(compile(greeting)) // the same file read again
		mustSetConnectors(t, srv, []string{"acme"})
		if ok, id := signedInAs(t, srv, session); !ok || id != "alice" {
			t.Fatalf("a reload with the same mapping signed alice out: %v %q", ok, id)
		}
		locked := greeting
		locked.Allow = `profile.id != "alice"`
		f.setMapping(compile(locked))
		mustSetConnectors(t, srv, []string{"acme"})
		if ok, id := signedInAs(t, srv, session); ok {
			t.Errorf("the session mapped before the allow rule still serves, as %q", id)
		}
		r := httptest.NewRequest("GET", "/oidc/authorize", nil)
		r.AddCookie(session)
		if l, ok := srv.ProviderBrowser().SignedIn(r); ok {
			t.Errorf("single sign-on still vouches for %q", l.UserInfo.ID)
		}
		f.setMapping(nil)
		session = browserSignIn(t, srv, f)
		f.setMapping(compile(greeting))
		mustSetConnectors(t, srv, []string{"acme"})
		if ok, _ := signedInAs(t, srv, session); ok {
			t.Error("a session made without a mapping serves after one was added")
		}
	})
}

// eachStore runs test with a SQLite store ("stored") and without one
// ("stateless"); withStore puts the store, if any, in the server's settings.
func eachStore(t *testing.T, test func(t *testing.T, withStore func(*Settings), stored bool)) {
	for _, stored := range []bool{true, false} {
		name := "stateless"
		if stored {
			name = "stored"
		}
		t.Run(name, func(t *testing.T) {
			test(t, func(s *Settings) {
				if stored {
					s.Store = sqliteStore(t)
				}
			}, stored)
		})
	}
}

// reloadingInstances runs during while a sign-in's plugin call is under way.
type reloadingInstances struct {
	*fakeInstances
	during func()
}

func (r *reloadingInstances) UserInfo(ctx context.Context, id string, session sdk.Session, callback map[string]string) (*host.UserInfoResult, error) {
	if r.during != nil {
		r.during()
	}
	return r.fakeInstances.UserInfo(ctx, id, session, callback)
}

// Two reloads while a sign-in's provider answers, the first removing its
// connector and the second adding it back as it was: the host sees the same
// connector before and after the call, yet the profile came from what the
// operator took away, and a session made now would date from after the
// removal and serve. The sign-in is refused, as with one reload.
func TestSignInAcrossARemovalAndAReturnIsRefused(t *testing.T) {
	eachStore(t, func(t *testing.T, withStore func(*Settings), stored bool) {
		f := signingIn("admin")
		inst := &reloadingInstances{fakeInstances: f}
		srv := newUnitServer(t, inst, withStore)
		mustSetConnectors(t, srv, []string{"acme"})
		rec := browserRequest(srv, "GET", "/sign-in/acme", "", nil)
		flow := flowCookieOf(srv, rec)
		f.mu.Lock()
		state := f.request.State
		f.mu.Unlock()
		inst.during = func() {
			mustSetConnectors(t, srv, []string{})
			mustSetConnectors(t, srv, []string{"acme"})
		}
		rec = browserRequest(srv, "GET", "/callback/acme?"+url.Values{"state": {state}, "code": {"c"}}.Encode(), "", nil, flow)
		if rec.Code == http.StatusFound || cookieOf(rec, srv.cookies.sessionName()) != nil {
			t.Fatalf("a sign-in across a removal and a return: %d, session cookie %v", rec.Code, cookieOf(rec, srv.cookies.sessionName()))
		}
		if !strings.Contains(rec.Body.String(), "was removed while this sign-in finished") {
			t.Errorf("the refusal: %.300s", rec.Body)
		}
	})
}
