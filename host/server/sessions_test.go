package server

import (
	"testing"
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
			srv.SetConnectors([]string{"acme", "other"})
			session := browserSignIn(t, srv, f)
			if ok, id := signedInAs(t, srv, session); !ok || id != "admin" {
				t.Fatalf("not signed in: %v %q", ok, id)
			}
			inst.removed.Store(true) // the reload that removes the connector
			srv.SetConnectors([]string{"other"})
			if ok, _ := signedInAs(t, srv, session); ok {
				t.Fatal("still signed in with the removed connector")
			}
			inst.removed.Store(false) // configured again, later
			srv.SetConnectors([]string{"acme", "other"})
			if ok, id := signedInAs(t, srv, session); ok {
				t.Fatalf("the session made by the removed connector is signed in again, as %q", id)
			}
			// A reload that keeps the connector signs no one out.
			fresh := browserSignIn(t, srv, f)
			srv.SetConnectors([]string{"acme"})
			if ok, id := signedInAs(t, srv, fresh); !ok || id != "admin" {
				t.Fatalf("a session made after the connector came back: signed in %v as %q", ok, id)
			}
		})
	}
}
