package oidcprovider

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/idplug/idplug/host/store"
	"github.com/idplug/idplug/sdk"
)

// A user with a long list of groups (or long profile fields: a mapping may
// yield 16 KiB) could not sign in to any app: the whole identity rode in each
// sealed token, past what the seal takes, and the code exchange was a 500
// after the whole trip through the provider. Such an identity is kept in the
// store under its grant now; its tokens stay small, and userinfo, the ID
// token and every refresh still carry all of it.
func TestALargeIdentityIsKeptWithItsGrant(t *testing.T) {
	s := newHostileSetup(t)
	groups := make([]any, 200)
	for i := range groups {
		groups[i] = fmt.Sprintf("5f2c6b1e-0d4a-4c8e-9b7a-%012d", i)
	}
	name := strings.Repeat("Ada ", 1000)
	s.browser.login = &Login{Instance: "acme", AuthTime: s.now,
		UserInfo: sdk.UserInfo{ID: "ada", Name: &name}, Claims: map[string]any{"groups": groups}}

	r := form(http.MethodPost, "/oauth/token", url.Values{"grant_type": {"authorization_code"},
		"code": {s.code(t, "openid profile offline_access")}, "redirect_uri": {"https://app.test/cb"}})
	r.SetBasicAuth("web", webSecret)
	rec := s.do(r)
	var answer struct {
		Access  string `json:"access_token"`
		Refresh string `json:"refresh_token"`
		ID      string `json:"id_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil || rec.Code != http.StatusOK || answer.Access == "" || answer.Refresh == "" {
		t.Fatalf("code exchange: %d %s", rec.Code, rec.Body)
	}
	for what, tok := range map[string]string{"access token": answer.Access, "refresh token": answer.Refresh} {
		if len(tok) > 2048 {
			t.Errorf("the %s is %d bytes; it should carry the subject alone", what, len(tok))
		}
	}
	checkWhole := func(what string, claims map[string]any) {
		t.Helper()
		got, _ := claims["groups"].([]any)
		if len(got) != len(groups) || got[199] != groups[199] || claims["name"] != name {
			t.Errorf("%s: %d groups, name of %d bytes; want all %d and the whole name", what, len(got), len(fmt.Sprint(claims["name"])), len(groups))
		}
	}
	checkWhole("ID token", jwtClaims(t, answer.ID))
	userinfo := func(access string) (int, map[string]any) {
		r := httptest.NewRequest(http.MethodGet, "/userinfo", nil)
		r.Header.Set("Authorization", "Bearer "+access)
		rec := s.do(r)
		var claims map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &claims)
		return rec.Code, claims
	}
	code, claims := userinfo(answer.Access)
	if code != http.StatusOK {
		t.Fatalf("userinfo: %d", code)
	}
	checkWhole("userinfo", claims)

	// A refresh keeps it all, for the grant's new life; each extends the
	// grant, and the identity with it: refreshes past the first record's end
	// (refresh tokens live an hour here) still find it all.
	for _, after := range []time.Duration{0, 50 * time.Minute, 50 * time.Minute} {
		s.now = s.now.Add(after)
		r = form(http.MethodPost, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {answer.Refresh}})
		r.SetBasicAuth("web", webSecret)
		rec = s.do(r)
		if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil || rec.Code != http.StatusOK {
			t.Fatalf("refresh %s on: %d %s", after, rec.Code, rec.Body)
		}
		checkWhole("refreshed ID token", jwtClaims(t, answer.ID))
		if code, claims = userinfo(answer.Access); code != http.StatusOK {
			t.Fatalf("userinfo after the refresh: %d", code)
		}
		checkWhole("userinfo after the refresh", claims)
	}

	// Revoked, the grant takes its identity with it.
	var tok accessRecord
	if err := s.p.open(accessPurpose, answer.Access, &tok); err != nil || !tok.Identity.Stored || tok.Identity.Name != "" || tok.Identity.Claims != nil {
		t.Fatalf("the access token's identity: %+v, %v; want the stub", tok.Identity, err)
	}
	r = form(http.MethodPost, "/revoke", url.Values{"token": {answer.Refresh}})
	r.SetBasicAuth("web", webSecret)
	if rec := s.do(r); rec.Code != http.StatusOK {
		t.Fatalf("revoke: %d %s", rec.Code, rec.Body)
	}
	if code, _ := userinfo(answer.Access); code != http.StatusUnauthorized {
		t.Errorf("userinfo after the revocation: %d, want 401", code)
	}
	if _, err := s.store.Session(t.Context(), storeKey(identityKind, tok.Grant), s.now); err != store.ErrNotFound {
		t.Errorf("the revoked grant's identity: %v, want it gone", err)
	}
}

// The identity is renewed before the refresh token is spent: a renewal that
// failed after the rotation left the client a spent token, and its retry was
// taken for a replay, which revokes the grant.
func TestAFailedIdentityRenewalSpendsNoRefreshToken(t *testing.T) {
	s := newHostileSetup(t)
	flaky := s.faulty()
	s.signInLarge()
	_, refresh := s.tokens(t)
	flaky.renew.Store(true)
	r := form(http.MethodPost, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}})
	r.SetBasicAuth("web", webSecret)
	if rec := s.do(r); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("refresh with the store away: %d %s, want 503", rec.Code, rec.Body)
	}
	r = form(http.MethodPost, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}})
	r.SetBasicAuth("web", webSecret)
	if rec := s.do(r); rec.Code != http.StatusOK {
		t.Fatalf("the retry: %d %s, want the refresh done", rec.Code, rec.Body)
	}
}

// A small identity still rides in its tokens: nothing more is written.
func TestASmallIdentityRidesInItsTokens(t *testing.T) {
	s := newHostileSetup(t)
	s.signIn("alice")
	access, _ := s.tokens(t)
	var tok accessRecord
	if err := s.p.open(accessPurpose, access, &tok); err != nil || tok.Identity.Stored || tok.Identity.Sub == "" {
		t.Fatalf("the access token's identity: %+v, %v", tok.Identity, err)
	}
	if _, err := s.store.Session(t.Context(), storeKey(identityKind, tok.Grant), s.now); err != store.ErrNotFound {
		t.Errorf("a small identity was stored too: %v", err)
	}
}

// jwtClaims is the payload of a JWT, unverified (the tests that verify ID
// tokens are elsewhere).
func jwtClaims(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]any
	if err == nil {
		err = json.Unmarshal(b, &claims)
	}
	if err != nil {
		t.Fatalf("the JWT's payload: %v", err)
	}
	return claims
}
