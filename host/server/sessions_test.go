package server

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/idplug/idplug/host/store"
)

// A connector the operator removes (found hostile, say) signs its users out at
// once. Its sessions were only hidden while the id was absent: configuring the
// id again (the plugin fixed, a connector disabled for a while) brought every
// session it made back, with a store as without, for the rest of their
// session_ttl, and the OpenID Provider's single sign-on with them
// (providerBrowser.SignedIn reads the same sessions). A session made after it
// came back serves.
func TestRemovedConnectorsSessionsStaySignedOutWhenItComesBack(t *testing.T) {
	for _, stored := range []bool{true, false} {
		name := "stateless"
		if stored {
			name = "stored"
		}
		t.Run(name, func(t *testing.T) {
			f := signingIn("admin") // what the hostile plugin said
			inst := &togglingInstances{fakeInstances: f}
			srv := newUnitServer(t, inst, func(s *Settings) {
				if stored {
					s.Store = sqliteStore(t)
				}
			})
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
