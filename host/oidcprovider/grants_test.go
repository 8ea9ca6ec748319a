package oidcprovider

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/idplug/idplug/host/store"
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
	s.signIn("alice")
	var refresh []string
	for range store.GrantsPerSubject {
		s.now = s.now.Add(time.Second)
		_, r := s.tokens(t)
		refresh = append(refresh, r)
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
	for name, r := range map[string]string{"the first grant's, refreshed": first, "the third grant's": refresh[2], "another person's": bobs} {
		if !s.refreshes(t, r) {
			t.Errorf("%s refresh token was refused", name)
		}
	}
}
