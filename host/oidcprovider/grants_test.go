package oidcprovider

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/idplug/idplug/host/store"
	"github.com/idplug/idplug/sdk"
)

// The token endpoint takes two grants; any other is unsupported_grant_type
// (RFC 6749 5.2), not a grant this client may not use (unauthorized_client,
// which device_code and token-exchange got).
func TestOtherGrantsAreUnsupported(t *testing.T) {
	s := newHostileSetup(t)
	for _, gt := range []string{"password", "client_credentials", "implicit", "urn:ietf:params:oauth:grant-type:device_code",
		"urn:ietf:params:oauth:grant-type:token-exchange", "urn:ietf:params:oauth:grant-type:jwt-bearer"} {
		code, e := s.tokenAnswer(url.Values{"grant_type": {gt}, "device_code": {"x"}, "subject_token": {"x"},
			"subject_token_type": {"urn:ietf:params:oauth:token-type:access_token"}, "assertion": {"a.b.c"}})
		if code != http.StatusBadRequest || e != "unsupported_grant_type" {
			t.Errorf("%s: %d %s, want 400 unsupported_grant_type", gt, code, e)
		}
	}
}

// TestGrantsPerSubjectAtAClient: a person who signs in to an app again and
// again keeps the app's last store.GrantsPerSubject grants; the one refreshed
// least recently ends with the next, and nobody else's does.
func TestGrantsPerSubjectAtAClient(t *testing.T) {
	s := newHostileSetup(t)
	s.signIn("bob")
	_, bobs := s.tokens(t)
	// Alice's identity is too large for her tokens: each grant keeps it in
	// the store, and the grant the cap ends takes it along.
	name := strings.Repeat("Alice ", 1000)
	s.browser.login = &Login{Instance: "acme", AuthTime: s.now, UserInfo: sdk.UserInfo{ID: "alice", Name: &name}}
	var refresh, access []string
	for range store.GrantsPerSubject {
		s.now = s.now.Add(time.Second)
		a, r := s.tokens(t)
		refresh, access = append(refresh, r), append(access, a)
	}
	grantOf := func(access string) string {
		t.Helper()
		var tok accessRecord
		if err := s.p.open(accessPurpose, access, &tok); err != nil || !tok.Identity.Stored {
			t.Fatalf("an access token of alice's: %+v, %v; want one whose identity is kept in the store", tok.Identity, err)
		}
		return tok.Grant
	}
	identityKept := func(grant string) bool {
		t.Helper()
		_, err := s.store.Session(t.Context(), storeKey(identityKind, grant), s.now)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}
	// The first grant is used: the second is now the one refreshed least recently.
	s.now = s.now.Add(time.Second)
	first, ok := s.refreshed(t, refresh[0])
	if !ok {
		t.Fatalf("a refresh token of grant 1 of %d was refused", store.GrantsPerSubject)
	}
	s.now = s.now.Add(time.Second)
	s.tokens(t)
	if s.refreshes(t, refresh[1]) {
		t.Fatalf("grant %d of one person at one app left the least recently refreshed alive", store.GrantsPerSubject+1)
	}
	if identityKept(grantOf(access[1])) {
		t.Error("the ended grant's identity is still kept in the store")
	}
	if !identityKept(grantOf(access[2])) {
		t.Error("a live grant's identity is gone")
	}
	for name, r := range map[string]string{"the first grant's, refreshed": first, "the third grant's": refresh[2], "another person's": bobs} {
		if !s.refreshes(t, r) {
			t.Errorf("%s refresh token was refused", name)
		}
	}
}
