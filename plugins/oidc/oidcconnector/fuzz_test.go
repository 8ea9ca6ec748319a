package oidcconnector

import (
	"context"
	"encoding/base64"
	"testing"
	"time"

	"github.com/idplug/idplug/sdk"
)

// FuzzVerify feeds arbitrary ID tokens to the verifier: it must refuse them with
// social_invalid_id_token (never panic, never accept), since no key signs them.
func FuzzVerify(f *testing.F) {
	b := base64.RawURLEncoding.EncodeToString
	f.Add("")
	f.Add("a.b.c")
	f.Add(b([]byte(`{"alg":"none"}`)) + "." + b([]byte(`{"sub":"x"}`)) + ".")
	f.Add(b([]byte(`{"alg":"HS256","kid":"k"}`)) + "." + b([]byte(`{"iss":"https://id.example.com","sub":"x","aud":"c"}`)) + ".c2ln")
	f.Add(b([]byte(`{"alg":"RS256","kid":"k","crit":["x"]}`)) + "." + b([]byte(`{}`)) + ".AA")
	f.Add(b([]byte(`{"alg":"ES256"}`)) + "." + b([]byte(`[1,2]`)) + "." + b(make([]byte, 64)))
	f.Add(b([]byte(`not json`)) + "..")
	in := &Instance{
		clientID:     "c",
		verification: verification{clientID: "c", skew: time.Second},
		provider:     newProvider("", []string{"https://id.example.com"}, endpoints{}, nil, time.Hour),
	}
	e := &endpoints{} // no JWK set: an asymmetric token cannot verify
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := in.verify(context.Background(), raw, expectation{endpoints: e, nonce: "n"})
		if err == nil || v != nil {
			t.Fatalf("accepted %q", raw)
		}
		if c := sdk.AsError(err).Code; c != sdk.CodeSocialIDTokenInvalid && c != sdk.CodeInvalidConfig {
			t.Fatalf("code %s for %q", c, raw)
		}
	})
}

// FuzzDiscovery feeds arbitrary discovery documents and JWK sets to their parsers:
// an error or a document whose issuer and endpoints are checked, never a panic.
func FuzzDiscovery(f *testing.F) {
	f.Add([]byte(`{"issuer":"https://id.example.com","authorization_endpoint":"https://id.example.com/a","token_endpoint":"https://id.example.com/t","jwks_uri":"https://id.example.com/k"}`))
	f.Add([]byte(`{"issuer":"https://login.example.com/{tenantid}/v2.0","authorization_endpoint":"https://x/a","token_endpoint":"https://x/t","jwks_uri":"https://x/k"}`))
	f.Add([]byte(`{"issuer":"https://id.example.com","authorization_endpoint":"javascript:alert(1)"}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"},{"kty":"oct","k":"c2VjcmV0"}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		if e, err := parseDiscovery(body, "https://id.example.com", nil, true); err == nil {
			if e.Issuer != "https://id.example.com" || e.Authorization == "" || e.Token == "" || e.JWKS == "" {
				t.Fatalf("accepted %+v", e)
			}
		}
		if keys, err := parseJWKS(body); err == nil {
			for _, k := range keys {
				if !k.IsPublic() {
					t.Fatalf("kept a non-public key %+v", k)
				}
			}
		}
	})
}
