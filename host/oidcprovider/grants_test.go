package oidcprovider

import (
	"net/http"
	"net/url"
	"testing"
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
