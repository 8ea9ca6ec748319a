package oidcconnector

import (
	"crypto"
	"encoding/base64"
	"encoding/json"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// The ID tokens a test forges: signed with any key and algorithm, unsigned, or
// keyed with bytes go-jose refuses.

// sign makes a JWS over claims with key, alg and kid.
func sign(t *testing.T, claims map[string]any, alg jose.SignatureAlgorithm, key any, kid string) string {
	t.Helper()
	payload, _ := json.Marshal(claims)
	return signPayload(t, payload, alg, key, kid)
}

// signPayload makes a JWS over payload as it is (a name given twice, or in
// another case, included).
func signPayload(t *testing.T, payload []byte, alg jose.SignatureAlgorithm, key any, kid string) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// unsigned makes an alg none token, which go-jose will not sign.
func unsigned(claims map[string]any) string {
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	p, _ := json.Marshal(claims)
	return h + "." + base64.RawURLEncoding.EncodeToString(p) + "."
}

// hs256 signs with an HMAC key given as raw bytes, bypassing go-jose's key checks.
func hs256(claims map[string]any, kid string, secret []byte) string {
	h, _ := json.Marshal(map[string]string{"alg": "HS256", "typ": "JWT", "kid": kid})
	p, _ := json.Marshal(claims)
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p)
	return input + "." + base64.RawURLEncoding.EncodeToString(hmacSHA256(secret, []byte(input)))
}

func hashOf(alg crypto.Hash, s string) string {
	h := alg.New()
	h.Write([]byte(s))
	sum := h.Sum(nil)
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}
