package oidcprovider

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idplug/idplug/sdk"
)

// Two replicas over one store, with the same configuration (grant_ttl one
// hour): replica A started a second before replica B (pods never start at
// the same millisecond). A grant signed in at B carries B's start as the time
// its configuration took effect, and A had taken it for one made under a
// newer configuration and judged nothing of it: while the app's refreshes
// reached A, grant_ttl never ended the grant, nor would a removal. The grant
// now carries its configuration's digest too, and A, on the same one, judges
// it.
func TestGrantTTLHoldsForGrantsOfALaterStartedReplica(t *testing.T) {
	s := newHostileSetup(t)
	cfg := *s.p.opts.Config
	cfg.GrantTTL = time.Hour
	optsA := s.p.opts
	optsA.Config = &cfg
	replicaA, err := New(optsA)
	if err != nil {
		t.Fatal(err)
	}

	s.now = s.now.Add(time.Second) // replica B starts a second later, same configuration
	replicaB, err := New(optsA)
	if err != nil {
		t.Fatal(err)
	}
	s.p = replicaB
	s.signIn("alice")
	_, refresh := s.tokens(t) // signed in and exchanged at B

	s.p = replicaA
	start := s.now
	s.now = start.Add(30 * time.Minute)
	refresh, ok := s.refreshed(t, refresh)
	if !ok {
		t.Fatal("a refresh within grant_ttl was refused")
	}
	s.now = start.Add(61 * time.Minute) // past grant_ttl; the refresh token lives on
	r := form(http.MethodPost, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}})
	r.SetBasicAuth("web", webSecret)
	rec := s.do(r)
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "grant_ttl") {
		t.Fatalf("a refresh past grant_ttl at the replica that started first: %d %.80s...; want invalid_grant naming grant_ttl", rec.Code, rec.Body.String()[:min(80, rec.Body.Len())])
	}
}

// idplug serve builds a reloaded provider before it configures the new
// connectors, and settles it once they are: the digest its grants carry is
// the new configuration's. Taken at New, it had been the old one's, the same
// as a replica still on it, which then judged the new grants by the old
// connectors and ended a good grant made through a connector the reload added.
func TestDigestOfAReloadIsTheNewConnectors(t *testing.T) {
	s := newHostileSetup(t)
	replicaB := s.p // still on the old configuration: connectors {acme}

	live := []string{"acme"} // the host while the reload builds the provider
	optsA := s.p.opts
	optsA.AllInstances = func() []string { return live }
	optsA.Targets = func(id string) (string, bool) { return id + "-target", slices.Contains(live, id) }
	s.now = s.now.Add(time.Second)
	replicaA, err := New(optsA)
	if err != nil {
		t.Fatal(err)
	}
	live = []string{"acme", "beta"} // configured: beta added
	replicaA.Settle()               // as idplug serve does before mounting it

	s.p = replicaA
	s.browser.login = &Login{Instance: "beta", UserInfo: sdk.UserInfo{ID: "alice"}, AuthTime: s.now}
	_, refresh := s.tokens(t) // signed in through beta at the reloaded replica
	s.p = replicaB            // the next refresh reaches the replica not yet reloaded
	if !s.refreshes(t, refresh) {
		t.Fatal("a good grant made through a connector the reload added was ended by a replica on the old configuration")
	}
}
