package oidcconnector

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/idplug/idplug/sdk"
)

func TestSignInWithAValidIDToken(t *testing.T) {
	s := newStubOP(t)
	in := parse(t, s.config(nil))
	res, err := s.signIn(t, in, func(nonce string) string {
		c := s.claims(nonce)
		c["at_hash"] = hashOf(crypto.SHA256, "at-0123456789")
		return sign(t, c, jose.RS256, s.key, s.kid)
	})
	if err != nil {
		t.Fatal(err)
	}
	u := res.UserInfo
	if u.ID != "user-1" || *u.Name != "Stub User" || *u.Email != "stub@example.com" {
		t.Errorf("profile = %+v", u)
	}
}

// TestForgedIDTokensAreRefused plays an attacker who controls what the token
// endpoint returns (or replays an old answer): each forged ID token is refused
// with its own check named.
func TestForgedIDTokensAreRefused(t *testing.T) {
	s := newStubOP(t)
	in := parse(t, s.config(nil))
	otherKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	pubDER, _ := x509.MarshalPKIXPublicKey(&s.key.PublicKey)
	jwkJSON, _ := (&jose.JSONWebKey{Key: s.key.Public()}).MarshalJSON()
	var replayed string

	cases := []struct {
		name  string
		token func(nonce string) string
		code  sdk.ErrorCode
		check string
	}{
		{"bad signature", func(n string) string { return sign(t, s.claims(n), jose.RS256, otherKey, s.kid) }, sdk.CodeSocialIDTokenInvalid, checkSignature},
		{"alg none", func(n string) string { return unsigned(s.claims(n)) }, sdk.CodeSocialIDTokenInvalid, checkAlgorithm},
		{"HS256 keyed with the provider's public key (DER)", func(n string) string { return hs256(s.claims(n), s.kid, pubDER) }, sdk.CodeSocialIDTokenInvalid, checkAlgorithm},
		{"HS256 keyed with the provider's public key (JWK)", func(n string) string { return hs256(s.claims(n), s.kid, jwkJSON) }, sdk.CodeSocialIDTokenInvalid, checkAlgorithm},
		{"wrong iss", func(n string) string {
			return sign(t, with(s.claims(n), "iss", "https://evil.example"), jose.RS256, s.key, s.kid)
		}, sdk.CodeSocialIDTokenInvalid, checkIssuer},
		{"wrong aud", func(n string) string {
			return sign(t, with(s.claims(n), "aud", "other-client"), jose.RS256, s.key, s.kid)
		}, sdk.CodeSocialIDTokenInvalid, checkAudience},
		{"several aud without azp", func(n string) string {
			return sign(t, with(s.claims(n), "aud", []string{stubClientID, "other"}), jose.RS256, s.key, s.kid)
		}, sdk.CodeSocialIDTokenInvalid, checkAZP},
		{"azp of another client", func(n string) string {
			return sign(t, with(with(s.claims(n), "aud", []string{stubClientID, "other"}), "azp", "other"), jose.RS256, s.key, s.kid)
		}, sdk.CodeSocialIDTokenInvalid, checkAZP},
		{"expired", func(n string) string {
			return sign(t, with(s.claims(n), "exp", time.Now().Add(-time.Minute).Unix()), jose.RS256, s.key, s.kid)
		}, sdk.CodeSocialIDTokenInvalid, checkExpired},
		{"no exp", func(n string) string { return sign(t, without(s.claims(n), "exp"), jose.RS256, s.key, s.kid) }, sdk.CodeSocialIDTokenInvalid, checkExpired},
		{"issued in the future", func(n string) string {
			return sign(t, with(s.claims(n), "iat", time.Now().Add(time.Hour).Unix()), jose.RS256, s.key, s.kid)
		}, sdk.CodeSocialIDTokenInvalid, checkIssuedAt},
		{"not yet valid", func(n string) string {
			return sign(t, with(s.claims(n), "nbf", time.Now().Add(time.Hour).Unix()), jose.RS256, s.key, s.kid)
		}, sdk.CodeSocialIDTokenInvalid, checkNotBefore},
		{"nonce mismatch", func(n string) string { return sign(t, s.claims("another-nonce"), jose.RS256, s.key, s.kid) }, sdk.CodeSocialIDTokenInvalid, checkNonce},
		{"no nonce", func(n string) string { return sign(t, without(s.claims(n), "nonce"), jose.RS256, s.key, s.kid) }, sdk.CodeSocialIDTokenInvalid, checkNonce},
		{"replayed ID token", func(n string) string { return replayed }, sdk.CodeSocialIDTokenInvalid, checkNonce},
		{"at_hash of another access token", func(n string) string {
			return sign(t, with(s.claims(n), "at_hash", hashOf(crypto.SHA256, "another")), jose.RS256, s.key, s.kid)
		}, sdk.CodeSocialIDTokenInvalid, checkAccessHash},
		{"unknown kid", func(n string) string { return sign(t, s.claims(n), jose.RS256, otherKey, "k-unknown") }, sdk.CodeSocialIDTokenInvalid, checkUnknownKey},
		{"no sub", func(n string) string { return sign(t, without(s.claims(n), "sub"), jose.RS256, s.key, s.kid) }, sdk.CodeSocialIDTokenInvalid, checkSubject},
		{"not a JWS", func(n string) string { return "not.a-token" }, sdk.CodeSocialIDTokenInvalid, checkMalformed},
		{"no ID token", func(n string) string { return "" }, sdk.CodeSocialIDTokenInvalid, checkMissingToken},
		{"critical header", func(n string) string {
			signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: s.key}, (&jose.SignerOptions{}).WithHeader("kid", s.kid).WithHeader("crit", []string{"exp"}).WithHeader("exp", 1))
			payload, _ := json.Marshal(s.claims(n))
			jws, _ := signer.Sign(payload)
			out, _ := jws.CompactSerialize()
			return out
		}, sdk.CodeSocialIDTokenInvalid, checkCritical},
	}
	// A first sign-in succeeds; its ID token is kept for the replay.
	if _, err := s.signIn(t, in, func(n string) string { replayed = sign(t, s.claims(n), jose.RS256, s.key, s.kid); return replayed }); err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.signIn(t, in, tc.token)
			refusedBecause(t, err, tc.code, tc.check)
		})
	}
}

func TestHMACIDTokensOnlyWhenConfigured(t *testing.T) {
	s := newStubOP(t)
	token := func(n string) string { return hs256(s.claims(n), "", []byte(stubSecret)) }
	_, err := s.signIn(t, parse(t, s.config(nil)), token)
	refusedBecause(t, err, sdk.CodeSocialIDTokenInvalid, checkAlgorithm)

	in := parse(t, s.config(map[string]any{"idTokenVerificationConfig": map[string]any{"algorithms": []string{"HS256"}}}))
	if _, err := s.signIn(t, in, token); err != nil {
		t.Fatalf("HS256 with the client secret, configured: %v", err)
	}
	_, err = s.signIn(t, in, func(n string) string { return hs256(s.claims(n), "", []byte("another-secret-0123456789-0123456789")) })
	refusedBecause(t, err, sdk.CodeSocialIDTokenInvalid, checkSignature)
	// Configured for HMAC only, an RS256 token is refused too.
	_, err = s.signIn(t, in, func(n string) string { return sign(t, s.claims(n), jose.RS256, s.key, s.kid) })
	refusedBecause(t, err, sdk.CodeSocialIDTokenInvalid, checkAlgorithm)
}

func TestClockTolerance(t *testing.T) {
	s := newStubOP(t)
	in := parse(t, s.config(map[string]any{"idTokenVerificationConfig": map[string]any{"clockTolerance": 120}}))
	justExpired := func(n string) string {
		return sign(t, with(s.claims(n), "exp", time.Now().Add(-time.Minute).Unix()), jose.RS256, s.key, s.kid)
	}
	if _, err := s.signIn(t, in, justExpired); err != nil {
		t.Fatalf("a token expired a minute ago, with two minutes of tolerance: %v", err)
	}
	in = parse(t, s.config(map[string]any{"idTokenVerificationConfig": map[string]any{"maxTokenAge": "10m"}}))
	_, err := s.signIn(t, in, func(n string) string {
		return sign(t, with(s.claims(n), "iat", time.Now().Add(-time.Hour).Unix()), jose.RS256, s.key, s.kid)
	})
	refusedBecause(t, err, sdk.CodeSocialIDTokenInvalid, checkTooOld)
}

func TestUserInfoSubMustBeTheIDTokens(t *testing.T) {
	s := newStubOP(t)
	in := parse(t, s.config(map[string]any{"fetchUserInfo": true}))
	good := func(n string) string { return sign(t, without(s.claims(n), "name"), jose.RS256, s.key, s.kid) }

	s.userInfo = map[string]any{"sub": "user-1", "name": "From Userinfo", "picture": "https://example.com/p.png"}
	res, err := s.signIn(t, in, good)
	if err != nil {
		t.Fatal(err)
	}
	if *res.UserInfo.Name != "From Userinfo" || *res.UserInfo.Avatar != "https://example.com/p.png" {
		t.Errorf("profile = %+v, want userinfo claims merged", res.UserInfo)
	}

	s.userInfo = map[string]any{"sub": "someone-else", "name": "Mallory"}
	_, err = s.signIn(t, in, good)
	refusedBecause(t, err, sdk.CodeInvalidResponse, "userinfo_sub")

	// A name a JSON decoder folds to sub ("ſub", U+017F, sorted after "sub") is
	// not the subject: the profile stays the checked user's.
	s.userInfo = map[string]any{"sub": "user-1", "ſub": "victim-42", "ſUB": "victim-43"}
	if res, err = s.signIn(t, in, good); err != nil || res.UserInfo.ID != "user-1" {
		t.Fatalf("userinfo with ſub: %v, %+v", err, res)
	}

	// An ID token that names its subject twice ("sub", then "Sub", which a
	// decoder matching names without regard to case reads last) is refused.
	_, err = s.signIn(t, parse(t, s.config(nil)), func(n string) string {
		return signRaw(t, s, appendMembers(t, without(s.claims(n), "name"), `"Sub":"victim-42"`))
	})
	refusedBecause(t, err, sdk.CodeSocialIDTokenInvalid, "ambiguous_sub")
}

// A claim that is null is no claim: the name is made of the given and family
// names, and no empty avatar or email is set.
func TestNullClaimsAreLeftOut(t *testing.T) {
	u, err := mapProfile("user-1", []byte(`{"sub":"user-1","name":null,"given_name":"Ann","family_name":"Example","picture":null,"email":null,"email_verified":true}`), nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if u.Name == nil || *u.Name != "Ann Example" || u.Avatar != nil || u.Email != nil {
		t.Errorf("profile = name %v, avatar %v, email %v", u.Name, u.Avatar, u.Email)
	}
}

func TestUnverifiedEmailIsLeftOut(t *testing.T) {
	s := newStubOP(t)
	res, err := s.signIn(t, parse(t, s.config(nil)), func(n string) string {
		return sign(t, with(s.claims(n), "email_verified", false), jose.RS256, s.key, s.kid)
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.UserInfo.Email != nil {
		t.Errorf("email = %q, want it left out while unverified", *res.UserInfo.Email)
	}
}

// A provider with one key and no key id (OIDC Core 10.1 allows it) that rotates
// it: a token no cached key verifies, naming no key, makes the connector fetch
// the set once more, within the floor; forged tokens of that kind fetch it no
// more often than the floor allows.
func TestUnnamedKeyRotation(t *testing.T) {
	s := newStubOP(t)
	s.keys[0].KeyID = ""
	in := parse(t, s.config(nil)) // no floor
	if _, err := s.signIn(t, in, func(n string) string { return sign(t, s.claims(n), jose.RS256, s.key, "") }); err != nil {
		t.Fatal(err)
	}
	rotated, _ := rsa.GenerateKey(rand.Reader, 2048)
	s.mu.Lock()
	s.keys = []jose.JSONWebKey{{Key: rotated.Public(), Algorithm: "RS256", Use: "sig"}}
	s.mu.Unlock()
	if _, err := s.signIn(t, in, func(n string) string { return sign(t, s.claims(n), jose.RS256, rotated, "") }); err != nil {
		t.Fatalf("after the provider rotated its unnamed key: %v", err)
	}

	floored := newStubOP(t)
	floored.keys[0].KeyID = ""
	in = parse(t, floored.config(map[string]any{"minKeyRefreshInterval": "1h"}))
	if _, err := floored.signIn(t, in, func(n string) string { return sign(t, floored.claims(n), jose.RS256, floored.key, "") }); err != nil {
		t.Fatal(err)
	}
	before := floored.jwksFetches()
	forger, _ := rsa.GenerateKey(rand.Reader, 2048)
	for range 5 {
		_, err := floored.signIn(t, in, func(n string) string { return sign(t, floored.claims(n), jose.RS256, forger, "") })
		refusedBecause(t, err, sdk.CodeSocialIDTokenInvalid, checkSignature)
	}
	if got := floored.jwksFetches() - before; got > 1 {
		t.Errorf("%d JWK set fetches for forged tokens without a key id, want at most 1 within the floor", got)
	}
}

// TestKeyRotationAndTheRefreshFloor: a token signed by a key the cached set lacks
// makes the connector fetch the keys again, but no more than once per floor.
func TestKeyRotationAndTheRefreshFloor(t *testing.T) {
	s := newStubOP(t)
	in := parse(t, s.config(map[string]any{"minKeyRefreshInterval": "1h"}))
	valid := func(op *stubOP, key any, kid string) func(string) string {
		return func(n string) string { return sign(t, op.claims(n), jose.ES256, key, kid) }
	}
	if _, err := s.signIn(t, in, func(n string) string { return sign(t, s.claims(n), jose.RS256, s.key, s.kid) }); err != nil {
		t.Fatal(err)
	}
	before := s.jwksFetches()

	// Forged kids, many of them: at most one fetch for all (the floor).
	forger, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for i := range 5 {
		_, err := s.signIn(t, in, valid(s, forger, "forged-"+string(rune('a'+i))))
		refusedBecause(t, err, sdk.CodeSocialIDTokenInvalid, checkUnknownKey)
	}
	if got := s.jwksFetches() - before; got > 1 {
		t.Errorf("%d JWK set fetches for forged key ids, want at most 1 within the floor", got)
	}

	// With no floor, a real rotation is picked up at once.
	s2 := newStubOP(t)
	in2 := parse(t, s2.config(nil))
	if _, err := s2.signIn(t, in2, func(n string) string { return sign(t, s2.claims(n), jose.RS256, s2.key, s2.kid) }); err != nil {
		t.Fatal(err)
	}
	rotated, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	s2.mu.Lock()
	s2.keys = []jose.JSONWebKey{{Key: rotated.Public(), KeyID: "k2", Algorithm: "ES256", Use: "sig"}}
	s2.mu.Unlock()
	if _, err := s2.signIn(t, in2, valid(s2, rotated, "k2")); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
	// The old key is gone from the set: its tokens are refused now.
	_, err := s2.signIn(t, in2, func(n string) string { return sign(t, s2.claims(n), jose.RS256, s2.key, s2.kid) })
	refusedBecause(t, err, sdk.CodeSocialIDTokenInvalid, checkUnknownKey)
	if s2.discoveryFetches() < 2 {
		t.Errorf("discovery fetched %d times, want it again on the unknown key", s2.discoveryFetches())
	}
}

func with(c map[string]any, k string, v any) map[string]any { c[k] = v; return c }
func without(c map[string]any, k string) map[string]any     { delete(c, k); return c }

// TestCheckedClaimsAreReadByExactName: claim names are case sensitive (RFC 7519
// section 4). A signed token whose real "iss" (or aud, nonce) is another's, with a
// case variant naming the expected one, passed: encoding/json read the variant.
// The checks now read the exact names, and a token carrying a case variant of a
// checked claim is refused outright, as is a name given twice, whichever value
// another parser would keep.
func TestCheckedClaimsAreReadByExactName(t *testing.T) {
	s := newStubOP(t)
	in := parse(t, s.config(nil))
	for name, tc := range map[string]struct {
		claims func(nonce string) []byte
		check  string
	}{
		"iss of another issuer, ISS the expected one": {func(n string) []byte {
			return appendMembers(t, with(s.claims(n), "iss", "https://other-tenant.example"), `"ISS":"`+s.URL()+`"`)
		}, "ambiguous_iss"},
		"aud of another client, AUD this one": {func(n string) []byte {
			return appendMembers(t, with(s.claims(n), "aud", "another-client"), `"AUD":"`+stubClientID+`"`)
		}, "ambiguous_aud"},
		"nonce of another sign-in, Nonce this one": {func(n string) []byte {
			return appendMembers(t, with(s.claims(n), "nonce", "another-sign-in"), `"Nonce":"`+n+`"`)
		}, "ambiguous_nonce"},
		"exp as EXP only": {func(n string) []byte {
			return appendMembers(t, without(s.claims(n), "exp"), `"EXP":4102444800`)
		}, "ambiguous_exp"},
		"iss given twice": {func(n string) []byte {
			return appendMembers(t, with(s.claims(n), "iss", "https://other-tenant.example"), `"iss":"`+s.URL()+`"`)
		}, checkMalformed},
	} {
		t.Run(name, func(t *testing.T) {
			res, err := s.signIn(t, in, func(n string) string { return signRaw(t, s, tc.claims(n)) })
			if err == nil {
				t.Fatalf("accepted (rawData %s)", res.UserInfo.RawData)
			}
			refusedBecause(t, err, sdk.CodeSocialIDTokenInvalid, tc.check)
		})
	}
	// The exact names alone sign in, beside claims of other names.
	if _, err := s.signIn(t, in, func(n string) string {
		return signRaw(t, s, appendMembers(t, s.claims(n), `"Iss_note":"x"`))
	}); err != nil {
		t.Fatal(err)
	}
}

// TestMaxAgeNeedsAFreshAuthTime: the authorization request crosses the browser,
// which may drop max_age; the ID token's auth_time must then show the person
// authenticated within max_age (OIDC Core 3.1.3.7 step 13, and section 2, which
// makes auth_time required when max_age is asked).
func TestMaxAgeNeedsAFreshAuthTime(t *testing.T) {
	s := newStubOP(t)
	in := parse(t, s.config(map[string]any{"authRequestOptionalConfig": map[string]any{"maxAge": "300"}}))
	withAuthTime := func(at any) func(string) string { return s.withAuthTime(t, at) }
	if _, err := s.signIn(t, in, withAuthTime(time.Now().Add(-time.Minute).Unix())); err != nil {
		t.Fatalf("authenticated a minute ago: %v", err)
	}
	if u, _ := url.Parse(s.lastAuthURL); u.Query().Get("max_age") != "300" {
		t.Fatalf("authorization URL %s has no max_age=300", s.lastAuthURL)
	}
	for name, at := range map[string]any{
		"a day ago":        time.Now().Add(-24 * time.Hour).Unix(),
		"no auth_time":     nil,
		"not a number":     "yesterday",
		"out of all range": 1e300,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := s.signIn(t, in, withAuthTime(at))
			refusedBecause(t, err, sdk.CodeSocialIDTokenInvalid, checkAuthTime)
		})
	}
	// Without max_age, auth_time is not asked for.
	plain := parse(t, s.config(nil))
	if _, err := s.signIn(t, plain, withAuthTime(time.Now().Add(-24*time.Hour).Unix())); err != nil {
		t.Fatalf("no max_age asked: %v", err)
	}
	// max_age is a whole number of seconds, wherever it is set.
	for field, cfg := range map[string]map[string]any{
		"authRequestOptionalConfig.maxAge": {"authRequestOptionalConfig": map[string]any{"maxAge": "5m"}},
		"customConfig.max_age":             {"customConfig": map[string]any{"max_age": "-1"}},
	} {
		if msg := configProblems(t, s.config(cfg))[field]; !strings.Contains(msg, "whole number of seconds") {
			t.Errorf("%s: problem %q, want one about whole seconds", field, msg)
		}
	}
}

// prompt=login asks the provider for a new login, and the browser may drop it:
// an ID token whose auth_time is of an older login is refused. OIDC Core does
// not make auth_time required for prompt=login, so a token without one passes
// (maxAge "0" is what requires it).
func TestPromptLoginRefusesAnOldAuthTime(t *testing.T) {
	s := newStubOP(t)
	in := parse(t, s.config(map[string]any{"authRequestOptionalConfig": map[string]any{"prompt": "login consent"}}))
	withAuthTime := func(at any) func(string) string { return s.withAuthTime(t, at) }
	for name, at := range map[string]any{"just now": time.Now().Unix(), "no auth_time": nil} {
		if _, err := s.signIn(t, in, withAuthTime(at)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if u, _ := url.Parse(s.lastAuthURL); u.Query().Get("prompt") != "login consent" {
		t.Fatalf("authorization URL %s does not ask prompt=login", s.lastAuthURL)
	}
	for name, at := range map[string]any{"three days ago": time.Now().Add(-72 * time.Hour).Unix(), "not a number": "yesterday"} {
		t.Run(name, func(t *testing.T) {
			_, err := s.signIn(t, in, withAuthTime(at))
			refusedBecause(t, err, sdk.CodeSocialIDTokenInvalid, checkAuthTime)
		})
	}
	// With max_age as well, both hold: a login within max_age but before
	// this sign-in is not the new one prompt=login asks for.
	both := parse(t, s.config(map[string]any{"authRequestOptionalConfig": map[string]any{"prompt": "login", "maxAge": "86400"}}))
	if _, err := s.signIn(t, both, withAuthTime(time.Now().Add(-time.Hour).Unix())); err == nil {
		t.Error("prompt=login with max_age: a login an hour old was taken")
	}
	// Without prompt=login an old login is the provider's single sign-on.
	plain := parse(t, s.config(map[string]any{"authRequestOptionalConfig": map[string]any{"prompt": "consent"}}))
	if _, err := s.signIn(t, plain, withAuthTime(time.Now().Add(-72*time.Hour).Unix())); err != nil {
		t.Fatalf("no prompt=login: %v", err)
	}
}

// signRaw signs payload bytes as they are with the stub's RS256 key.
func signRaw(t *testing.T, s *stubOP, payload []byte) string {
	t.Helper()
	return signPayload(t, payload, jose.RS256, s.key, s.kid)
}

// appendMembers adds raw members at the end of the JSON object of claims.
func appendMembers(t *testing.T, claims map[string]any, members string) []byte {
	t.Helper()
	p, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return append(p[:len(p)-1], ("," + members + "}")...)
}

// withAuthTime makes ID tokens of the stub with auth_time at (none when nil).
func (s *stubOP) withAuthTime(t *testing.T, at any) func(string) string {
	return func(n string) string {
		c := s.claims(n)
		if at != nil {
			c["auth_time"] = at
		}
		return sign(t, c, jose.RS256, s.key, s.kid)
	}
}
