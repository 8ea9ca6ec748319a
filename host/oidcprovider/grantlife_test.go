package oidcprovider

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/idplug/idplug/host/seal"
	"github.com/idplug/idplug/host/store"
)

// A grant lives as long as the longest token issued under it. With
// refresh_token_ttl shorter than access_token_ttl the grant ended with the
// refresh token's life, and its access tokens were refused ("access token
// revoked") long before the expires_in they came with. The refresh tokens
// keep their own, shorter, life.
func TestAccessTokensLiveTheirWholeLifeUnderAShortRefreshTokenTTL(t *testing.T) {
	s := newHostileSetup(t)
	cfg := s.p.opts.Config
	cfg.RefreshTokenTTL, cfg.AccessTokenTTL = time.Minute, 10*time.Minute
	// Tokens sealed by the provider's clock, so that their own expiry is the test's too.
	clocked, err := seal.New([][]byte{[]byte(strings.Repeat("k", 32))}, seal.WithClock(func() time.Time { return s.now }))
	if err != nil {
		t.Fatal(err)
	}
	s.p.opts.Sealer = func() *seal.Sealer { return clocked }
	// expires_in is the provider's clock's, not the machine's: set apart, a
	// machine slow to reach the exchange made it 599.
	s.now = s.now.Add(-5 * time.Second)
	s.signIn("alice")
	start := s.now
	at := func(d time.Duration) { s.now = start.Add(d) }
	type answer struct {
		Access    string `json:"access_token"`
		Refresh   string `json:"refresh_token"`
		ExpiresIn int    `json:"expires_in"`
	}
	token := func(v url.Values) answer {
		t.Helper()
		r := form(http.MethodPost, "/oauth/token", v)
		r.SetBasicAuth("web", webSecret)
		rec := s.do(r)
		var a answer
		if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil || rec.Code != http.StatusOK {
			t.Fatalf("token: %d %s", rec.Code, rec.Body)
		}
		return a
	}
	exchange := func() answer {
		return token(url.Values{"grant_type": {"authorization_code"},
			"code": {s.code(t, "openid offline_access")}, "redirect_uri": {"https://app.test/cb"}})
	}
	answers := func(when time.Duration, what, access string, want int) {
		t.Helper()
		at(when)
		if code, e := s.userinfo(access); code != want {
			t.Errorf("%s at %s: userinfo %d %s, want %d", what, when, code, e, want)
		}
	}

	exchanged := exchange() // a grant as its code's exchange made it
	if exchanged.ExpiresIn != 600 {
		t.Fatalf("expires_in %d, want 600", exchanged.ExpiresIn)
	}
	rotated := exchange() // a grant as a refresh left it, 30 s in
	at(30 * time.Second)
	refreshed := token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rotated.Refresh}})

	answers(2*time.Minute, "the exchange's access token", exchanged.Access, http.StatusOK)
	answers(2*time.Minute, "the refresh's access token", refreshed.Access, http.StatusOK)
	answers(10*time.Minute+20*time.Second, "the refresh's access token", refreshed.Access, http.StatusOK)
	// The refresh token still lives its own minute.
	at(2 * time.Minute)
	if s.refreshes(t, refreshed.Refresh) {
		t.Error("a refresh token was taken past its refresh_token_ttl")
	}
	// And each grant ends with its last access token, not later.
	for _, g := range []struct {
		what   string
		access string
		ends   time.Duration
	}{
		{"the exchange's grant", exchanged.Access, 10 * time.Minute},
		{"the refreshed grant", refreshed.Access, 10*time.Minute + 30*time.Second},
	} {
		var rec accessRecord
		if err := s.p.open(accessPurpose, g.access, &rec); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.store.Grant(t.Context(), rec.Grant, start.Add(g.ends-time.Second)); err != nil {
			t.Errorf("%s a second before its end: %v", g.what, err)
		}
		if _, _, err := s.store.Grant(t.Context(), rec.Grant, start.Add(g.ends+time.Second)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s a second after its end: %v, want it gone", g.what, err)
		}
	}
}

// provider.grant_ttl ends a grant that long after its sign-in, however often
// it was refreshed: refreshes had kept a grant going for good, so a person
// disabled at the connector's provider kept their apps. A browser whose
// sign-in is older than grant_ttl signs in again rather than getting a code
// whose grant would end at once.
func TestGrantTTLEndsAGrantHoweverOftenRefreshed(t *testing.T) {
	s := newHostileSetup(t)
	s.p.opts.Config.GrantTTL = time.Hour
	s.signIn("alice")
	_, refresh := s.tokens(t)
	start := s.now
	s.now = start.Add(30 * time.Minute)
	refresh, ok := s.refreshed(t, refresh)
	if !ok {
		t.Fatal("a refresh within grant_ttl was refused")
	}
	s.now = start.Add(61 * time.Minute) // the refresh token lives on; the grant does not
	r := form(http.MethodPost, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}})
	r.SetBasicAuth("web", webSecret)
	rec := s.do(r)
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "grant_ttl") {
		t.Fatalf("a refresh past grant_ttl: %d %s; want invalid_grant naming grant_ttl", rec.Code, rec.Body)
	}

	// The browser's sign-in is now past grant_ttl (but within sso_ttl): no
	// code from it, the sign-in page instead.
	q := url.Values{"client_id": {"web"}, "redirect_uri": {"https://app.test/cb"}, "response_type": {"code"}, "scope": {"openid"}}
	rec = s.do(httptest.NewRequest(http.MethodGet, "/authorize?"+q.Encode(), nil))
	if loc := rec.Header().Get("Location"); strings.Contains(loc, "code=") || !strings.Contains(loc, "/login?id=") {
		t.Fatalf("authorize with a sign-in past grant_ttl: %d, Location %q; want the sign-in page", rec.Code, loc)
	}
}
