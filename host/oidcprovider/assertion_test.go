package oidcprovider

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// draft-ietf-oauth-rfc7523bis: an assertion's aud is this provider alone. One
// made out to another server as well could be replayed here by that server.
func TestPrivateKeyJWTAudienceIsThisProviderAlone(t *testing.T) {
	p, sign := keyClientProvider(t, testStore(t))
	tokenURL := keyClientIssuer + "/oauth/token"
	for i, tc := range []struct {
		aud  any
		want string
	}{
		{[]string{keyClientIssuer}, "invalid_grant"},
		{[]string{tokenURL}, "invalid_grant"},
		{[]string{keyClientIssuer, "https://other-as.test"}, "invalid_client"},
		{[]string{"https://other-as.test", tokenURL}, "invalid_client"},
		{[]string{keyClientIssuer, tokenURL}, "invalid_client"},
		{[]string{}, "invalid_client"},
	} {
		now := time.Now()
		got := authenticateWith(p, sign(map[string]any{"iss": "pk", "sub": "pk", "aud": tc.aud,
			"jti": fmt.Sprint("aud-", i, "-", now.UnixNano()), "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()}))
		if !strings.HasPrefix(got, tc.want+" ") {
			t.Errorf("aud %q: %s; want %s", tc.aud, got, tc.want)
		}
	}
}

// RFC 7523 3 and OpenID Connect Core 9: iat is optional in an assertion (the
// hour its exp may be ahead bounds it); one in the future is refused.
func TestPrivateKeyJWTWithoutIatIsTaken(t *testing.T) {
	p, sign := keyClientProvider(t, testStore(t))
	now := time.Now()
	got := authenticateWith(p, sign(map[string]any{"iss": "pk", "sub": "pk", "aud": keyClientIssuer,
		"jti": fmt.Sprint("no-iat-", now.UnixNano()), "exp": now.Add(2 * time.Minute).Unix()}))
	if !strings.HasPrefix(got, "invalid_grant ") {
		t.Errorf("an assertion without iat: %s; want the client authenticated (invalid_grant)", got)
	}
	got = authenticateWith(p, sign(map[string]any{"iss": "pk", "sub": "pk", "aud": keyClientIssuer,
		"jti": fmt.Sprint("future-iat-", now.UnixNano()), "iat": now.Add(time.Minute).Unix(), "exp": now.Add(2 * time.Minute).Unix()}))
	if !strings.HasPrefix(got, "invalid_client ") {
		t.Errorf("an assertion issued a minute from now: %s; want invalid_client", got)
	}
	got = authenticateWith(p, sign(map[string]any{"iss": "pk", "sub": "pk", "aud": keyClientIssuer,
		"jti": fmt.Sprint("no-exp-", now.UnixNano()), "iat": now.Unix()}))
	if !strings.HasPrefix(got, "invalid_client ") {
		t.Errorf("an assertion without exp: %s; want invalid_client", got)
	}
}

// RFC 7519 4.1.5: an assertion is not taken before its nbf, beyond the clock
// skew allowed.
func TestPrivateKeyJWTBeforeItsNbfIsRefused(t *testing.T) {
	p, sign := keyClientProvider(t, testStore(t))
	now := time.Now()
	for i, tc := range []struct {
		nbf  time.Time
		want string
	}{
		{now.Add(40 * time.Minute), "invalid_client"},
		{now.Add(time.Minute), "invalid_client"},
		{now.Add(-time.Minute), "invalid_grant"},
		{now, "invalid_grant"},
	} {
		got := authenticateWith(p, sign(map[string]any{"iss": "pk", "sub": "pk", "aud": keyClientIssuer,
			"jti": fmt.Sprint("nbf-", i, "-", now.UnixNano()), "iat": now.Unix(), "nbf": tc.nbf.Unix(), "exp": now.Add(50 * time.Minute).Unix()}))
		if !strings.HasPrefix(got, tc.want+" ") {
			t.Errorf("nbf %s from now: %s; want %s", tc.nbf.Sub(now).Round(time.Second), got, tc.want)
		}
	}
}

// Discovery names RS256 and ES256 for client assertions, and those are all
// that is taken; a key that names its alg verifies that alg only.
func TestPrivateKeyJWTTakesTheAlgorithmsDiscoveryNames(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		keyAlg string // the client's key's alg
		alg    jose.SignatureAlgorithm
		want   string
	}{
		{"RS256", jose.RS256, "invalid_grant"},
		{"RS256", jose.PS256, "invalid_client"},
		{"RS256", jose.RS512, "invalid_client"},
		{"", jose.RS256, "invalid_grant"},
		{"", jose.PS256, "invalid_client"},
		{"", jose.PS384, "invalid_client"},
		// A key for another alg (the configuration refuses one) verifies
		// no RS256 assertion.
		{"PS256", jose.RS256, "invalid_client"},
	} {
		p := rsaKeyClientProvider(t, &key.PublicKey, tc.keyAlg)
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: tc.alg, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "r1"))
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		b, _ := json.Marshal(map[string]any{"iss": "pk", "sub": "pk", "aud": keyClientIssuer,
			"jti": fmt.Sprint(tc.alg, now.UnixNano()), "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()})
		jws, err := signer.Sign(b)
		if err != nil {
			t.Fatal(err)
		}
		assertion, _ := jws.CompactSerialize()
		if got := authenticateWith(p, assertion); !strings.HasPrefix(got, tc.want+" ") {
			t.Errorf("%s with a key for %q: %s; want %s", tc.alg, tc.keyAlg, got, tc.want)
		}
	}
}

// rsaKeyClientProvider is keyClientProvider's provider with pub, of alg, as
// pk's key (kid r1).
func rsaKeyClientProvider(t *testing.T, pub *rsa.PublicKey, alg string) *Provider {
	t.Helper()
	return pkClientProvider(t, testStore(t), jose.JSONWebKey{Key: pub, KeyID: "r1", Algorithm: alg, Use: "sig"})
}
