package oidcconnector

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejson "github.com/go-jose/go-jose/v4/json"
	"github.com/idplug/idplug/sdk"
)

// FuzzJWSAgainstJose checks the connector's own JWS verification (jws.go, reached
// through Instance.verify as a sign-in reaches it) against go-jose: for every token,
// the same decision and, when both accept, the same payload and claims.
//
// A token is made of three pieces: the header and payload as JSON to encode (or, with
// the raw flags, as the segments' text), and the signature as bytes, or made by one
// of the fixture's keys over whatever header and payload the fuzzer wrote, so that a
// mutated header still carries a good signature.
//
// go-jose is the reference. Where the ID token profile asks for more than a general
// JWS library checks, the rule is applied on go-jose's side too (profileRefusal, each
// with its RFC); where go-jose refuses a header member the connector never reads, the
// connector may accept (outcome.unreadMember).
func FuzzJWSAgainstJose(f *testing.F) {
	fx := newJWSFixture(f)
	for _, s := range fx.seeds(f) {
		f.Add(s.header, s.payload, s.signature, s.shape)
	}
	f.Fuzz(func(t *testing.T, header, payload, signature []byte, shape uint8) {
		raw := fx.token(header, payload, signature, shape)
		for _, c := range fx.configs {
			c.compare(t, raw)
		}
	})
}

// The bits of a fuzzed token's shape.
const (
	rawHeader    = 1 << 0 // the header piece is the segment's text, not JSON to encode
	rawPayload   = 1 << 1 // the same for the payload
	rawSignature = 1 << 2 // the same for the signature, when nothing signs
	signerShift  = 3      // bits 3 to 5: who signs (signerNone: the signature piece as given)
	pssAnySalt   = 1 << 6 // PS* signed with the longest salt rather than the hash's length
	extraSegment = 1 << 7 // a fourth segment after the signature
)

// Who signs a fuzzed token.
const (
	signerNone = iota
	signerRSA
	signerEC256
	signerEC384
	signerEd25519
	signerSecret      // HMAC with the client secret of jwsAll
	signerShortSecret // HMAC with the client secret of jwsFew, shorter than SHA-512
	signerPublicKey   // HMAC keyed with the RSA public key's JWK: the key confusion attack
)

const (
	jwsIssuer  = "https://id.example.com"
	jwsClient  = "client-1"
	jwsKeysURL = "https://id.example.com/jwks"
	jwsClaims  = `{"iss":"https://id.example.com","sub":"user-1","aud":"client-1","iat":1700000000,"exp":4102444800}`
)

// jwsRSAKey is fixed, so that a token the fuzzer saved signs the same way next run.
const jwsRSAKey = `-----BEGIN PRIVATE KEY-----
MIIEvwIBADANBgkqhkiG9w0BAQEFAASCBKkwggSlAgEAAoIBAQD7qdMnS1clx5In
0jgfbMhawi0j5XLKG5mXMH7/xvFDXQR+dJGuBPoOa4rh0ECxLag+I4is1JWYgJw/
+LdI0gl3WciA5pbezps5a3z9Ll1HNv8OD5F5yOJhP2JFyd10CUwJjlEozM4KOavn
QfbNqLnUeLbeu0PaxPOZgivZ37eimYEJ51AzzsGrl57earl/Jnud8r1jYIxM4sx2
WBZC6oubnvbD+K/uZv8IDpzGddB9GkJT6BgmfYWTtd36sAxECZcbr+A5L/XRsSkY
GI6TL3Lj4zncM6lAeECVW0i87jcTSmFJEYp9njrUIbz+HUUWVbmEUg+tposq+HHW
CdJW7QSjAgMBAAECggEADgCsgYa1IiKBFNsjCUiVu0sLlPA621j+ykVGA7hPi0Z9
LgYRZwPa3/uG3jqmptUaA98ZRziK3FHnn72YgSJCqZPizp1F7r7DL0Y2TaYLRZ+f
QGqIVyTgx7Vto+FwA3lS9EMpa+I9Yp9D29m1QEsvj81pq2nzBBSqUzPFedlzT8Yr
g04uNOLh5a/qm8ObDOpL5wyLbeomJaRqayjFO0uSEMw5CfSsaG/dQZatHjba+9Eh
vdiNX1z3yCMXQSLTQp6oF8gF6xr0sj7QIi8+dEuMLxrLLg3/Vnsl63VpK6oBW2oc
e6+N5od7paeoJ6pmhbHmflaPR/W9JVfbAERteomP7QKBgQD/MdkaptwpmhihQpeF
O3Fs+KmcwJkVjdbFU6xA0w6LRjTmm7oROUJIIKjQ6Oa3wRFX1bU0sIsnpMZ2pex9
FOVvGbTdqQe5H7Qkvac8xULoJMLhAQ39FOqVbZ//eI2rxD90bs/W9j8glfM+TA+3
yvYdEacE8DtnOUyF371q/Jaw1wKBgQD8dR/CaSwbRnpxFQSJI9hh/S9mLRN9pBWJ
Sfjs/GMeh972+fcOZRdlrkqK5ikuYWSZRKVOY0iaTTp+qHoZCL7NKu/DZ8NwCRx6
HwX3qMkpFOrm0d4kU4kluXPYIKp3wzKrA+Kafr6aZCQMPWeTZT/Lm8TeZ46oBxVz
IcKKUSw1FQKBgQC2rLctdd5JxW32GZYfIDMMf1/ivpeWr0bbUA8RBEP3/JSnszfZ
VnSU7xQJH37wcLr6dhdVlT63bSNIEXQdAZVPF0a6GWJW6VPprP0G6mn/hTkfGcMq
tAtMVgHfPSuklkGaFiyfQvxjVhOeN5JUzWup2VYGmfTb6k9V0Zhk+lTgVwKBgQDq
QpCm6MrZwGtrtVIRI6btPnAWQuucIX8uduq6lXQwZ2nZCZhbziiI3NMk0nASLqOX
qWAvPeen7tPBpfoucrQCU75KN2Xd90Zqd5Ek/4UyTsuuRb35PV69F7pMKfukyAej
Mya5r7SUNSpSBUSwPDqXZ8KlkbiJaJFZ1VDc4nfABQKBgQDKH+G2dsDHZyrxxG8E
RmB5CgYp7Sx9ou8TyP/BGtcWIloX9FEanbtpdNBNcRbrURHdL8uN4l3cVA4vSnG6
jJzerbw4l64Pb09PfQCbqTHfKu5EDOIJwBswrVVkI5TWP3FF8tjQRDT5sXpa9R0a
MMMqJeLyEBL7rPY3ZfgJfmhcKA==
-----END PRIVATE KEY-----`

type jwsFixture struct {
	rsa       *rsa.PrivateKey
	ec256     *ecdsa.PrivateKey
	ec384     *ecdsa.PrivateKey
	ec521     *ecdsa.PrivateKey // signs seeds only: the fuzzer's signers are the others
	ed        ed25519.PrivateKey
	secret    []byte // 64 bytes: enough for HS512
	short     []byte // 40 bytes: enough for HS256, not for HS384 or HS512
	publicJWK []byte
	configs   []*jwsConfig
}

func newJWSFixture(tb testing.TB) *jwsFixture {
	tb.Helper()
	block, _ := pem.Decode([]byte(jwsRSAKey))
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		tb.Fatal(err)
	}
	seed256 := sha256.Sum256([]byte("ec-256"))
	seed384 := sha512.Sum384([]byte("ec-384"))
	seed521 := sha512.Sum512([]byte("ec-521"))
	seedEd := sha256.Sum256([]byte("ed25519"))
	fx := &jwsFixture{
		rsa:    k.(*rsa.PrivateKey),
		ed:     ed25519.NewKeyFromSeed(seedEd[:]),
		secret: bytes.Repeat([]byte("s3cret-0"), 8),
		short:  bytes.Repeat([]byte("short-00"), 5),
	}
	if fx.ec256, err = ecdsa.ParseRawPrivateKey(elliptic.P256(), seed256[:]); err != nil {
		tb.Fatal(err)
	}
	if fx.ec384, err = ecdsa.ParseRawPrivateKey(elliptic.P384(), seed384[:]); err != nil {
		tb.Fatal(err)
	}
	if fx.ec521, err = ecdsa.ParseRawPrivateKey(elliptic.P521(), append(make([]byte, 2), seed521[:]...)); err != nil {
		tb.Fatal(err)
	}
	if fx.publicJWK, err = json.Marshal(jose.JSONWebKey{Key: &fx.rsa.PublicKey, KeyID: "rsa-1"}); err != nil {
		tb.Fatal(err)
	}
	// Both sides get the keys the connector keeps of this set (parseJWKS drops the
	// encryption key and the low-order Ed25519 one).
	keys, err := parseJWKS(fx.keySet(tb))
	if err != nil {
		tb.Fatal(err)
	}
	all := append(slices.Clone(asymmetricAlgorithms), hmacAlgorithms...)
	fx.configs = []*jwsConfig{
		newJWSConfig("every algorithm", all, fx.secret, keys),
		newJWSConfig("ES256, EdDSA, HS256 and HS512 with a short secret", []string{"ES256", "EdDSA", "HS256", "HS512"}, fx.short, keys),
	}
	return fx
}

// keySet is the provider's JWK set: a key for each type, one restricted to PS256, two
// sharing a kid, and two the connector must not keep.
func (fx *jwsFixture) keySet(tb testing.TB) []byte {
	tb.Helper()
	pub := &fx.rsa.PublicKey
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: pub, KeyID: "rsa-1", Use: "sig"},
		{Key: pub, KeyID: "rsa-pss", Algorithm: "PS256"},
		{Key: &fx.ec256.PublicKey, KeyID: "ec-256"},
		{Key: &fx.ec384.PublicKey, KeyID: "ec-384", Algorithm: "ES384"},
		{Key: &fx.ec521.PublicKey, KeyID: "ec-521"},
		{Key: fx.ed.Public(), KeyID: "ed"},
		{Key: &fx.ec256.PublicKey, KeyID: "shared"},
		{Key: pub, KeyID: "shared"},
		{Key: pub, KeyID: "rsa-enc", Use: "enc"},
	}}
	doc, err := json.Marshal(set)
	if err != nil {
		tb.Fatal(err)
	}
	weak := `{"kty":"OKP","crv":"Ed25519","kid":"ed-weak","x":"` + b64url(append([]byte{1}, make([]byte, 31)...)) + `"}`
	return bytes.Replace(doc, []byte(`]}`), []byte(`,`+weak+`]}`), 1)
}

// token assembles the compact JWS of one fuzzed input.
func (fx *jwsFixture) token(header, payload, signature []byte, shape uint8) string {
	input := tokenSegment(header, shape&rawHeader != 0) + "." + tokenSegment(payload, shape&rawPayload != 0)
	var sig string
	if signer := shape >> signerShift & 7; signer == signerNone {
		sig = tokenSegment(signature, shape&rawSignature != 0)
	} else {
		sig = b64url(fx.sign(signer, signingAlg(header, shape&rawHeader != 0), input, shape&pssAnySalt != 0))
	}
	raw := input + "." + sig
	if shape&extraSegment != 0 {
		raw += "." + sig
	}
	return raw
}

func tokenSegment(piece []byte, asText bool) string {
	if asText {
		return string(piece)
	}
	return b64url(piece)
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// signingAlg is the header's "alg", which picks the hash and the RSA scheme a signer
// uses; a header without one is signed as its key's usual algorithm would sign it.
func signingAlg(header []byte, asText bool) string {
	if asText {
		header, _ = base64.RawURLEncoding.DecodeString(string(header))
	}
	var members map[string]json.RawMessage
	var alg string
	if json.Unmarshal(header, &members) == nil {
		_ = json.Unmarshal(members["alg"], &alg)
	}
	return alg
}

func algHash(alg string) crypto.Hash {
	switch {
	case strings.HasSuffix(alg, "384"):
		return crypto.SHA384
	case strings.HasSuffix(alg, "512"):
		return crypto.SHA512
	}
	return crypto.SHA256
}

func (fx *jwsFixture) sign(signer uint8, alg, input string, anySalt bool) []byte {
	h := algHash(alg)
	digest := h.New()
	digest.Write([]byte(input))
	sum := digest.Sum(nil)
	mac := func(key []byte) []byte {
		m := hmac.New(h.New, key)
		m.Write([]byte(input))
		return m.Sum(nil)
	}
	var sig []byte
	var err error
	switch signer {
	case signerRSA:
		if strings.HasPrefix(alg, "PS") {
			salt := rsa.PSSSaltLengthEqualsHash
			if anySalt {
				salt = rsa.PSSSaltLengthAuto
			}
			sig, err = rsa.SignPSS(rand.Reader, fx.rsa, h, sum, &rsa.PSSOptions{SaltLength: salt})
		} else {
			sig, err = rsa.SignPKCS1v15(nil, fx.rsa, h, sum)
		}
	case signerEC256, signerEC384:
		key := fx.ec256
		if signer == signerEC384 {
			key = fx.ec384
		}
		r, s, err := ecdsa.Sign(rand.Reader, key, sum)
		if err != nil {
			panic(err)
		}
		size := (key.Curve.Params().BitSize + 7) / 8
		sig = make([]byte, 2*size)
		r.FillBytes(sig[:size])
		s.FillBytes(sig[size:])
	case signerEd25519:
		sig = ed25519.Sign(fx.ed, []byte(input))
	case signerSecret:
		sig = mac(fx.secret)
	case signerShortSecret:
		sig = mac(fx.short)
	case signerPublicKey:
		sig = mac(fx.publicJWK)
	}
	if err != nil {
		panic(err)
	}
	return sig
}

// jwsConfig is one way an instance verifies ID tokens: an Instance whose key set is
// already fetched, and the same algorithms, secret and keys for go-jose.
type jwsConfig struct {
	name   string
	in     *Instance
	e      *endpoints
	algs   []jose.SignatureAlgorithm
	secret []byte
	keys   []jose.JSONWebKey
}

func newJWSConfig(name string, algs []string, secret []byte, keys []jose.JSONWebKey) *jwsConfig {
	// The set never expires and is never fetched again: a fetch would find no client.
	p := newProvider("", []string{jwsIssuer}, endpoints{}, nil, math.MaxInt64)
	p.keys.url, p.keys.keys, p.keys.lastFetch = jwsKeysURL, keys, time.Now()
	p.keys.expires = time.Now().AddDate(100, 0, 0)
	c := &jwsConfig{
		name: name,
		in: &Instance{clientID: jwsClient, provider: p, verification: verification{
			clientID: jwsClient, algorithms: algs, hmacSecret: secret, skew: time.Minute,
		}},
		e:      &endpoints{JWKS: jwsKeysURL},
		secret: secret,
		keys:   keys,
	}
	for _, a := range algs {
		c.algs = append(c.algs, jose.SignatureAlgorithm(a))
	}
	return c
}

// outcome is one side's decision on a token.
type outcome struct {
	accepted bool
	// check names the refusal: the connector's check, or go-jose's reason.
	check string
	// claimsStage: refused after the signature verified, for what the claims say.
	claimsStage bool
	payload     []byte
	claims      idClaims
	// unreadMember: go-jose refused, when parsing, a header member the connector
	// never reads (jwk, x5c, nonce, or a value go-jose's decoder will not take).
	unreadMember bool
}

// claimsChecks are the refusals made after the signature verified.
var claimsChecks = map[string]bool{
	checkIssuer: true, checkSubject: true, checkAudience: true, checkAZP: true, checkExpired: true,
	checkIssuedAt: true, checkNotBefore: true, checkTooOld: true, checkNonce: true, checkAccessHash: true,
}

func (c *jwsConfig) compare(t *testing.T, raw string) {
	t.Helper()
	got, want := c.connector(t, raw), c.jose(raw)
	switch {
	case got.accepted && want.accepted:
		if !bytes.Equal(got.payload, want.payload) {
			t.Errorf("%s: %q: the connector's payload %q, go-jose's %q", c.name, raw, got.payload, want.payload)
		}
		if !reflect.DeepEqual(got.claims, want.claims) {
			t.Errorf("%s: %q: the connector's claims %+v, go-jose's %+v", c.name, raw, got.claims, want.claims)
		}
	case got.accepted && !want.unreadMember:
		t.Errorf("%s: %q: the connector accepts what go-jose refuses (%s)", c.name, raw, want.check)
	case want.accepted:
		t.Errorf("%s: %q: the connector refuses (%s) what go-jose accepts", c.name, raw, got.check)
	case want.claimsStage && got.check != want.check:
		t.Errorf("%s: %q: go-jose verifies the signature and the claims fail %s; the connector refuses for %s", c.name, raw, want.check, got.check)
	case got.claimsStage && !want.claimsStage && !want.unreadMember:
		t.Errorf("%s: %q: the connector verified a signature go-jose refuses (%s), then refused the claims (%s)", c.name, raw, want.check, got.check)
	}
}

// connector is the decision of Instance.verify, as a sign-in makes it.
func (c *jwsConfig) connector(t *testing.T, raw string) outcome {
	v, err := c.in.verify(context.Background(), raw, expectation{endpoints: c.e})
	if err == nil {
		return outcome{accepted: true, payload: v.raw, claims: v.claims}
	}
	se := sdk.AsError(err)
	if se.Code != sdk.CodeSocialIDTokenInvalid {
		t.Fatalf("%s: %q: refused with %s, not as an invalid ID token: %v", c.name, raw, se.Code, err)
	}
	check, _ := se.Details["check"].(string)
	return outcome{check: check, claimsStage: claimsChecks[check]}
}

// jose is go-jose's decision, with the profile's rules and the connector's choice of
// keys: HMAC algorithms with the client secret only, the others with the set's keys
// of the token's kid (every key when it names none: go-jose alone would refuse such
// a token against a set) whose own alg, if any, is the token's.
func (c *jwsConfig) jose(raw string) outcome {
	if rule := profileRefusal(raw); rule != "" {
		return outcome{check: rule}
	}
	jws, err := jose.ParseSignedCompact(raw, c.algs)
	if err != nil {
		return outcome{check: "go-jose: " + err.Error(), unreadMember: faultsUnreadMember(raw)}
	}
	h := jws.Signatures[0].Header
	var payload []byte
	verified := false
	if slices.Contains(hmacAlgorithms, h.Algorithm) {
		payload, err = jws.Verify(c.secret)
		verified = err == nil
	} else {
		for _, key := range c.keys {
			if (h.KeyID != "" && key.KeyID != h.KeyID) || (key.Algorithm != "" && key.Algorithm != h.Algorithm) {
				continue
			}
			if payload, err = jws.Verify(key); err == nil {
				if !pssSaltIsHashLength(raw, h.Algorithm, key, jws.Signatures[0].Signature) {
					return outcome{check: "a PSS salt that is not the hash's length (RFC 7518 section 3.5)"}
				}
				verified = true
				break
			}
		}
	}
	if !verified {
		return outcome{check: "go-jose: no key verifies the signature"}
	}
	out := outcome{accepted: true, payload: payload}
	if err := out.claims.read(payload); err != nil {
		check, _ := sdk.AsError(err).Details["check"].(string)
		return outcome{check: check, claimsStage: true}
	}
	if err := c.in.verification.checkClaims(&out.claims, c.in.expectedIssuers(c.e), "", false); err != nil {
		check, _ := sdk.AsError(err).Details["check"].(string)
		return outcome{check: check, claimsStage: true}
	}
	return out
}

// profileRefusal names the rule of the ID token profile that refuses raw where
// go-jose, a general JWS library, goes on; "" when none does.
func profileRefusal(raw string) string {
	if len(raw) > maxIDTokenBytes {
		return "larger than an ID token may be"
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return "" // go-jose refuses it
	}
	// go-jose verifies what it decoded, encoded again; the connector verifies the text.
	for _, part := range parts {
		if b, err := base64.RawURLEncoding.DecodeString(part); err == nil && b64url(b) != part {
			return "a segment not in base64url's one form (RFC 7515 section 2)"
		}
	}
	members := headerMembers(parts[0])
	var crit []string
	if josejson.Unmarshal(members["crit"], &crit) == nil && len(crit) > 0 {
		return "crit names an extension the connector does not implement (RFC 7515 section 4.1.11)"
	}
	var b64 *bool
	if josejson.Unmarshal(members["b64"], &b64) == nil && b64 != nil && !*b64 {
		return "an unencoded payload, which a JWT never has (RFC 7797 section 7)"
	}
	var typ *string
	if v, ok := members["typ"]; ok && josejson.Unmarshal(v, &typ) != nil {
		return "a typ that is not a string (RFC 7515 section 4.1.9)"
	}
	return ""
}

// headerMembers decodes the header segment as go-jose does; nil when it cannot.
func headerMembers(segment string) map[string]josejson.RawMessage {
	b, err := base64.RawURLEncoding.DecodeString(segment)
	if err != nil {
		return nil
	}
	var members map[string]josejson.RawMessage
	if josejson.Unmarshal(b, &members) != nil {
		return nil
	}
	return members
}

// faultsUnreadMember reports whether the header has a member the connector never
// reads that go-jose's parsing refuses.
func faultsUnreadMember(raw string) bool {
	h, _, _ := strings.Cut(raw, ".")
	for name, v := range headerMembers(h) {
		switch name {
		case "alg", "kid", "typ", "crit", "b64":
			continue
		case "jwk", "x5c", "nonce":
			return true
		}
		var value interface{}
		if josejson.Unmarshal(v, &value) != nil {
			return true
		}
	}
	return false
}

// pssSaltIsHashLength holds for every algorithm but PS*, whose salt must be as long
// as its hash; go-jose takes any salt length.
func pssSaltIsHashLength(raw, alg string, key jose.JSONWebKey, sig []byte) bool {
	pub, ok := key.Key.(*rsa.PublicKey)
	if !strings.HasPrefix(alg, "PS") || !ok {
		return true
	}
	h := algHash(alg)
	digest := h.New()
	digest.Write([]byte(raw[:strings.LastIndexByte(raw, '.')]))
	return rsa.VerifyPSS(pub, h, digest.Sum(nil), sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
}

// jwsSeed is one input of the seed corpus.
type jwsSeed struct {
	header, payload, signature []byte
	shape                      uint8
}

// seeds are valid tokens of every algorithm signed by go-jose, and the refusals a
// verifier must get right, most of them signed so that only the one fault is left.
func (fx *jwsFixture) seeds(tb testing.TB) []jwsSeed {
	tb.Helper()
	claims := []byte(jwsClaims)
	var out []jwsSeed
	// fromJose splits a token go-jose signed into the pieces the fuzzer mutates.
	fromJose := func(alg jose.SignatureAlgorithm, key any, opts *jose.SignerOptions) string {
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
		if err != nil {
			tb.Fatal(err)
		}
		jws, err := signer.Sign(claims)
		if err != nil {
			tb.Fatal(err)
		}
		tok, err := jws.CompactSerialize()
		if err != nil {
			tb.Fatal(err)
		}
		parts := strings.Split(tok, ".")
		piece := func(i int) []byte {
			b, err := base64.RawURLEncoding.DecodeString(parts[i])
			if err != nil {
				tb.Fatal(err)
			}
			return b
		}
		out = append(out, jwsSeed{header: piece(0), payload: piece(1), signature: piece(2)})
		return tok
	}
	kid := func(k string) *jose.SignerOptions {
		return (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", k)
	}
	for _, alg := range []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.PS384, jose.PS512} {
		fromJose(alg, fx.rsa, kid("rsa-1"))
	}
	fromJose(jose.PS256, fx.rsa, kid("rsa-pss"))
	fromJose(jose.ES256, fx.ec256, kid("ec-256"))
	fromJose(jose.ES256, fx.ec256, kid("shared"))
	fromJose(jose.RS256, fx.rsa, kid("shared"))
	fromJose(jose.ES384, fx.ec384, kid("ec-384"))
	fromJose(jose.ES512, fx.ec521, kid("ec-521"))
	fromJose(jose.EdDSA, fx.ed, kid("ed"))
	fromJose(jose.RS256, fx.rsa, nil)
	for _, alg := range []jose.SignatureAlgorithm{jose.HS256, jose.HS384, jose.HS512} {
		fromJose(alg, fx.secret, nil)
	}
	fromJose(jose.HS256, fx.short, nil)
	fromJose(jose.RS256, fx.rsa, kid("rsa-1").WithBase64(false))
	fromJose(jose.RS256, fx.rsa, kid("rsa-1").WithHeader("exp", 1).WithCritical("exp"))
	tok := fromJose(jose.RS256, fx.rsa, kid("rsa-1"))

	// The valid RS256 token, spoiled in one way each.
	h, p, s := out[len(out)-1].header, out[len(out)-1].payload, out[len(out)-1].signature
	parts := strings.Split(tok, ".")
	out = append(out,
		jwsSeed{header: h, payload: p, signature: s[:len(s)-1]},               // truncated signature
		jwsSeed{header: h, payload: p, signature: append(slices.Clone(s), 0)}, // one byte too many
		jwsSeed{header: h, payload: p, signature: s, shape: extraSegment},
		jwsSeed{header: []byte(parts[0]), payload: []byte(parts[1]), signature: []byte(parts[2] + "!"), shape: rawHeader | rawPayload | rawSignature},
		jwsSeed{header: []byte(parts[0] + "="), payload: p, signature: s, shape: rawHeader},
		jwsSeed{header: h, payload: []byte("e30*"), signature: s, shape: rawPayload},
		jwsSeed{header: h, payload: p, signature: []byte(sibling(parts[2])), shape: rawSignature},
		jwsSeed{header: []byte(`{"alg":"none"}`), payload: claims},
		jwsSeed{header: []byte(`{"alg":"none","kid":"rsa-1"}`), payload: claims, signature: s},
		jwsSeed{header: []byte(`{"alg":"ES256","kid":"ec-256"}`), payload: claims, signature: make([]byte, 63)},
		jwsSeed{header: []byte(""), payload: claims, shape: signerRSA << signerShift},
	)

	// Headers the fuzzer starts from, each signed by a key over the header as written.
	signed := func(signer uint8, header string, flags uint8) {
		out = append(out, jwsSeed{header: []byte(header), payload: claims, shape: signer<<signerShift | flags})
	}
	signed(signerRSA, `{"alg":"RS256","kid":"rsa-1"}`, 0)
	signed(signerRSA, `{"alg":"RS256"}`, 0)                          // no kid: every key is tried
	signed(signerRSA, `{"alg":"RS256","kid":"nope"}`, 0)             // a kid the set does not have
	signed(signerRSA, `{"alg":"RS256","kid":"rsa-pss"}`, 0)          // a key kept for PS256
	signed(signerRSA, `{"alg":"RS256","kid":"rsa-enc"}`, 0)          // an encryption key
	signed(signerRSA, `{"alg":"PS256","kid":"rsa-pss"}`, pssAnySalt) // a salt longer than the hash
	signed(signerRSA, `{"alg":"ES256","kid":"rsa-1"}`, 0)            // alg and key type differ
	signed(signerEC256, `{"alg":"RS256","kid":"ec-256"}`, 0)         // the other way round
	signed(signerEC384, `{"alg":"ES256","kid":"ec-384"}`, 0)         // the wrong curve
	signed(signerEd25519, `{"alg":"EdDSA"}`, 0)                      //
	signed(signerEd25519, `{"alg":"EdDSA","kid":"ed-weak"}`, 0)      // a low-order key
	signed(signerPublicKey, `{"alg":"HS256","kid":"rsa-1"}`, 0)      // the public key as an HMAC secret
	signed(signerShortSecret, `{"alg":"HS512"}`, 0)                  // a secret shorter than the hash
	signed(signerShortSecret, `{"alg":"HS384"}`, 0)                  //
	signed(signerSecret, `{"alg":"HS256","kid":"rsa-1"}`, 0)         //
	signed(signerRSA, `{"alg":"RS256","kid":"rsa-1","crit":["b64"],"b64":false}`, 0)
	signed(signerRSA, `{"alg":"RS256","kid":"rsa-1","crit":["b64"],"b64":true}`, 0)
	signed(signerRSA, `{"alg":"RS256","kid":"rsa-1","b64":false}`, 0) // b64 without crit
	signed(signerRSA, `{"alg":"RS256","kid":"rsa-1","b64":"false"}`, 0)
	signed(signerRSA, `{"alg":"RS256","kid":"rsa-1","crit":[]}`, 0)
	signed(signerRSA, `{"alg":"RS256","kid":"rsa-1","crit":"b64"}`, 0)
	signed(signerRSA, `{"alg":"RS256","kid":"rsa-1","crit":null}`, 0)
	signed(signerRSA, `{"alg":"RS256","kid":"rsa-1","typ":"JWT"}`, 0)
	signed(signerRSA, `{"alg":"RS256","kid":"rsa-1","typ":5}`, 0)
	signed(signerRSA, `{"ALG":"RS256","kid":"rsa-1"}`, 0)                            // member names differ in case
	signed(signerRSA, `{"alg":"RS256","KID":"nope","kid":"rsa-1"}`, 0)               //
	signed(signerRSA, `{"alg":"RS256","Crit":["exp"],"kid":"rsa-1"}`, 0)             //
	signed(signerRSA, `{"alg":"HS256","alg":"RS256","kid":"rsa-1"}`, 0)              // a member given twice
	signed(signerRSA, `{"\u0061lg":"RS256","kid":"rsa-1"}`, 0)                       // an escaped name
	signed(signerRSA, `{"alg":"RS256","kid":"rsa-1","x5c":["bm90IGEgY2VydA=="]}`, 0) // members the connector never reads
	signed(signerRSA, `{"alg":"RS256","kid":"rsa-1","nonce":5}`, 0)
	signed(signerRSA, `{"alg":"RS256","kid":"rsa-1","x":1e400}`, 0)
	signed(signerRSA, `{"alg":"RS256","kid":"rsa-1","x":{"a":1,"a":2}}`, 0)
	signed(signerRSA, `{"alg":"RS256","kid":"rsa-1"} `, 0)
	signed(signerRSA, `{"alg":"RS256","kid":"rsa-1"}{}`, 0)
	signed(signerRSA, `null`, 0)
	signed(signerRSA, `[]`, 0)

	// Payloads: signed, with the header of the first token above.
	rs := []byte(`{"alg":"RS256","kid":"rsa-1"}`)
	for _, payload := range []string{"", "null", "[]", "{}", `{"sub":"user-1"}`, `{"iss":"https://id.example.com","sub":"user-1","aud":"client-1","iat":1700000000,"exp":4102444800,"SUB":"other"}`,
		`{"iss":"https://id.example.com","sub":"user-1","aud":["client-1","x"],"azp":"client-1","iat":1700000000,"exp":4102444800}`, `{"exp":"x"}`} {
		out = append(out, jwsSeed{header: rs, payload: []byte(payload), shape: signerRSA << signerShift})
	}
	big := strings.Replace(jwsClaims, `"iss"`, `"pad":"`+strings.Repeat("x", maxIDTokenBytes)+`","iss"`, 1)
	out = append(out, jwsSeed{header: rs, payload: []byte(big), shape: signerRSA << signerShift})

	// The same text in another form: a line break, or stray bits in a last character.
	hs := b64url(rs)
	out = append(out,
		jwsSeed{header: []byte(hs[:10] + "\n" + hs[10:]), payload: claims, shape: rawHeader | signerRSA<<signerShift},
		jwsSeed{header: []byte(sibling(hs)), payload: claims, shape: rawHeader | signerRSA<<signerShift},
		jwsSeed{header: rs, payload: []byte(sibling(b64url(claims))), shape: rawPayload | signerRSA<<signerShift},
	)
	return out
}

// sibling changes the last character of a base64url text whose length leaves stray
// bits to another that decodes to the same bytes; the text is unchanged when none do.
func sibling(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	if n := len(s) % 4; n != 2 && n != 3 {
		return s
	}
	i := strings.IndexByte(alphabet, s[len(s)-1])
	return s[:len(s)-1] + string(alphabet[i^1]) // the lowest bit is always a stray one
}
