package oidcprovider

import (
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idplug/idplug/host/config"
	"github.com/idplug/idplug/host/store"
	"github.com/idplug/idplug/sdk"
)

// reload builds the provider again, as a reload does, on the same store,
// session keys and clock: with clients, and the connector instances targets
// names (id to target), none of them with a mapping.
func (s *hostileSetup) reload(t *testing.T, clients []config.Client, targets map[string]string) {
	t.Helper()
	s.reloadMapped(t, clients, targets, nil)
}

// reloadMapped is reload with the instances' mapping fingerprints (id to
// fingerprint; "" for an instance left out).
func (s *hostileSetup) reloadMapped(t *testing.T, clients []config.Client, targets, mappings map[string]string) {
	t.Helper()
	opts := s.p.opts
	opts.Mappings = func(id string) string { return mappings[id] }
	cfg := *opts.Config
	cfg.Clients = clients
	opts.Config = &cfg
	opts.Targets = func(id string) (string, bool) {
		target, ok := targets[id]
		return target, ok
	}
	opts.AllInstances = func() []string { return slices.Sorted(maps.Keys(targets)) }
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	s.p = p
}

// tokenAnswer posts a token request of the web app: the status and the error.
func (s *hostileSetup) tokenAnswer(v url.Values) (int, string) {
	r := form(http.MethodPost, "/oauth/token", v)
	r.SetBasicAuth("web", webSecret)
	rec := s.do(r)
	var answer struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &answer)
	return rec.Code, answer.Error
}

// userinfo asks userinfo with access: the status and the error.
func (s *hostileSetup) userinfo(access string) (int, string) {
	rec := s.do(bearer(httptest.NewRequest(http.MethodGet, "/userinfo", nil), access))
	var answer struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &answer)
	return rec.Code, answer.Error
}

// A grant made through a connector ends with it: once a reload removed the
// instance, pointed it at another provider, changed how it maps profiles (the
// grant's claims were mapped the old way; an allow rule added to lock a user
// out left the user's apps refreshing), took it off the client's list or
// removed the client, the grant's refresh token got new tokens and its access
// tokens answered at userinfo for good. Now the first use after the reload
// revokes the grant (invalid_grant at the token endpoint, 401 invalid_token at
// userinfo), and a later reload that brings the connector back does not
// revive it.
func TestGrantsEndWithTheirConnector(t *testing.T) {
	s := newHostileSetup(t)
	clients := s.p.opts.Config.Clients
	webOnly := func(connectors ...string) []config.Client {
		c := slices.Clone(clients)
		c[0].Connectors = connectors
		return c
	}
	acme := map[string]string{"acme": "acme-target"}
	both := map[string]string{"acme": "acme-target", "other": "other-target"}
	s.signIn("alice")
	for _, tc := range []struct {
		name     string
		clients  []config.Client
		targets  map[string]string
		mappings map[string]string
		refresh  bool // the web app may still authenticate to refresh
	}{
		{"the connector removed", clients, map[string]string{"other": "other-target"}, nil, true},
		{"the connector at another provider", clients, map[string]string{"acme": "elsewhere"}, nil, true},
		{"the connector maps profiles another way", clients, acme, map[string]string{"acme": "another-mapping"}, true},
		{"the connector off the client's list", webOnly("other"), both, nil, true},
		{"the client removed", clients[1:], acme, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s.reload(t, clients, acme)
			byUserinfo, _ := s.tokens(t)
			byRefreshAccess, byRefresh := s.tokens(t)
			s.reloadMapped(t, tc.clients, tc.targets, tc.mappings)

			if code, e := s.userinfo(byUserinfo); code != http.StatusUnauthorized || e != invalidToken {
				t.Errorf("userinfo: %d %s, want 401 invalid_token", code, e)
			}
			if tc.refresh {
				code, e := s.tokenAnswer(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {byRefresh}})
				if code != http.StatusBadRequest || e != "invalid_grant" {
					t.Errorf("refresh: %d %s, want invalid_grant", code, e)
				}
			} else if code, _ := s.userinfo(byRefreshAccess); code != http.StatusUnauthorized {
				t.Errorf("userinfo of the other grant: %d, want 401", code)
			}
			for what, token := range map[string]string{"userinfo's": byUserinfo, "the refresh's": byRefreshAccess} {
				var rec accessRecord
				if err := s.p.open(accessPurpose, token, &rec); err != nil {
					t.Fatal(err)
				}
				if _, _, err := s.store.Grant(t.Context(), rec.Grant, s.now); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("%s grant in the store: %v, want it revoked", what, err)
				}
			}

			// Back as it was: the grants stay ended.
			s.reload(t, clients, acme)
			if s.refreshes(t, byRefresh) {
				t.Error("the grant came back with its connector")
			}
			if code, _ := s.userinfo(byUserinfo); code != http.StatusUnauthorized {
				t.Errorf("userinfo with the connector back: %d, want 401", code)
			}
		})
	}

	// Another instance's mapping changing, or the same mapping reloaded, ends
	// nothing; a grant whose identity is too large for its tokens (kept in
	// the store, the tokens carrying a stub) ends with its mapping as well.
	t.Run("a mapping change ends only its own instance's grants", func(t *testing.T) {
		s.reloadMapped(t, clients, both, map[string]string{"acme": "m1"})
		s.browser.login = &Login{Instance: "acme", UserInfo: sdk.UserInfo{ID: "alice"}, AuthTime: s.now, Mapping: "m1"}
		_, small := s.tokens(t)
		s.browser.login.Claims = map[string]any{"bio": strings.Repeat("x", 4<<10)}
		_, large := s.tokens(t)
		s.reloadMapped(t, clients, both, map[string]string{"acme": "m1", "other": "m2"})
		for what, refresh := range map[string]*string{"small": &small, "large": &large} {
			next, ok := s.refreshed(t, *refresh)
			if !ok {
				t.Fatalf("the %s grant ended when another instance's mapping changed", what)
			}
			*refresh = next
		}
		s.reloadMapped(t, clients, both, map[string]string{"acme": "m3"})
		for what, refresh := range map[string]string{"small": small, "large": large} {
			if code, e := s.tokenAnswer(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}); code != http.StatusBadRequest || e != "invalid_grant" {
				t.Errorf("refresh of the %s grant mapped the old way: %d %s, want invalid_grant", what, code, e)
			}
		}
		s.signIn("alice")
	})

	// A refresh token of an earlier release names no mapping: it is not
	// judged by one, and its first refresh gives the grant its connector's
	// mapping of now, so that the next change ends it.
	t.Run("a grant of an earlier release takes its mapping at its first refresh", func(t *testing.T) {
		s.reloadMapped(t, clients, acme, map[string]string{"acme": "m1"})
		s.browser.login = &Login{Instance: "acme", UserInfo: sdk.UserInfo{ID: "alice"}, AuthTime: s.now, Mapping: "m1"}
		defer s.signIn("alice")
		_, refresh := s.tokens(t)
		var rec refreshRecord
		if err := s.p.open(refreshPurpose, refresh, &rec); err != nil {
			t.Fatal(err)
		}
		rec.Identity.Mapping = nil
		legacy, err := s.p.seal(refreshPurpose, rec, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		next, ok := s.refreshed(t, legacy)
		if !ok {
			t.Fatal("a refresh token of an earlier release was refused")
		}
		s.reloadMapped(t, clients, acme, map[string]string{"acme": "m2"})
		if code, e := s.tokenAnswer(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {next}}); code != http.StatusBadRequest || e != "invalid_grant" {
			t.Errorf("refresh after the mapping changed: %d %s, want invalid_grant", code, e)
		}
	})

	// In a rolling update, a grant signed in at a replica still on the old
	// configuration, after the new replicas started, is judged by them: it
	// was issued under an older configuration than theirs. (By its sign-in's
	// time it was newer than theirs, and no new replica ever judged it: an
	// allow rule added to lock its user out passed it by.)
	t.Run("a grant signed in at an old replica during a rollout is judged by the new ones", func(t *testing.T) {
		now := s.now
		defer func() { s.now = now }()
		s.now = now.Add(-time.Minute)
		s.reloadMapped(t, clients, acme, map[string]string{"acme": "m1"}) // the old replica
		s.now = now
		s.browser.login = &Login{Instance: "acme", UserInfo: sdk.UserInfo{ID: "alice"}, AuthTime: s.now, Mapping: "m1"}
		defer s.signIn("alice")
		_, refresh := s.tokens(t)
		s.now = now.Add(-30 * time.Second)
		s.reloadMapped(t, clients, acme, map[string]string{"acme": "m2"}) // a new replica, started before the sign-in
		s.now = now
		if code, e := s.tokenAnswer(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}); code != http.StatusBadRequest || e != "invalid_grant" {
			t.Errorf("refresh at the new replica: %d %s, want invalid_grant", code, e)
		}
	})

	t.Run("a code exchanged after the reload", func(t *testing.T) {
		s.reload(t, clients, acme)
		code := s.code(t, "openid offline_access")
		s.reload(t, clients, map[string]string{"other": "other-target"})
		status, e := s.tokenAnswer(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"https://app.test/cb"}})
		if status != http.StatusBadRequest || e != "invalid_grant" {
			t.Errorf("exchange: %d %s, want invalid_grant", status, e)
		}
	})

	// During a rolling update that adds a connector, a replica still on the
	// configuration before it sees grants made through it on the others: it
	// does not judge a grant signed in after its own configuration took
	// effect, which would end it for good.
	t.Run("a replica whose configuration predates the grant keeps it", func(t *testing.T) {
		s.reload(t, clients, acme) // a replica with the connector
		s.signIn("alice")
		access, refresh := s.tokens(t)
		now := s.now
		defer func() { s.now = now }()
		s.now = now.Add(-time.Minute)
		s.reload(t, clients, map[string]string{"other": "other-target"}) // one whose configuration took effect before the sign-in
		s.now = now
		if code, e := s.userinfo(access); code != http.StatusOK {
			t.Errorf("userinfo: %d %s", code, e)
		}
		if !s.refreshes(t, refresh) {
			t.Error("the refresh was refused")
		}
	})

	t.Run("a reload that keeps the connector for the client keeps the grant", func(t *testing.T) {
		s.reload(t, clients, acme)
		access, refresh := s.tokens(t)
		s.reload(t, webOnly("other", "acme"), both)
		if code, e := s.userinfo(access); code != http.StatusOK {
			t.Errorf("userinfo: %d %s", code, e)
		}
		if !s.refreshes(t, refresh) {
			t.Error("the refresh was refused")
		}
	})
}
