package oidcprovider

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
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
