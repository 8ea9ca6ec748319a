package oauth2kit

import (
	"crypto"
	"encoding/base64"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/idplug/idplug/sdk"
)

const tokenURL = "https://id.example.com/token"

var (
	secret64 = strings.Repeat("s3cr3t-0", 8) // 64 bytes: long enough for HS512
	testNow  = time.Unix(1_700_000_000, 0)
)

func applyAuth(t *testing.T, a ClientAuth) (url.Values, http.Header) {
	t.Helper()
	form, header := url.Values{}, http.Header{}
	if err := a.apply(form, header, tokenURL, testNow); err != nil {
		t.Fatal(err)
	}
	return form, header
}

func TestClientSecretBasicFormEncodesTheCredentials(t *testing.T) {
	form, header := applyAuth(t, ClientAuth{Method: ClientSecretBasic, ClientID: "my client", ClientSecret: "p@ss:w+rd/é"})
	if len(form) != 0 {
		t.Errorf("body = %v, want no credentials in it", form)
	}
	got := header.Get("Authorization")
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte("my+client:p%40ss%3Aw%2Brd%2F%C3%A9"))
	if got != want {
		t.Errorf("Authorization = %s, want %s (RFC 6749 2.3.1: form-encode, then Basic)", got, want)
	}
}

func TestClientSecretPostAndNone(t *testing.T) {
	form, header := applyAuth(t, ClientAuth{Method: ClientSecretPost, ClientID: "id", ClientSecret: "sec"})
	if want := (url.Values{"client_id": {"id"}, "client_secret": {"sec"}}); !reflect.DeepEqual(form, want) || len(header) != 0 {
		t.Errorf("post: body %v header %v", form, header)
	}
	form, header = applyAuth(t, ClientAuth{Method: AuthNone, ClientID: "id", ClientSecret: "ignored"})
	if want := (url.Values{"client_id": {"id"}}); !reflect.DeepEqual(form, want) || len(header) != 0 {
		t.Errorf("none: body %v header %v", form, header)
	}
}

func TestClientSecretJWT(t *testing.T) {
	for _, alg := range []string{"HS256", "HS384", "HS512"} {
		t.Run(alg, func(t *testing.T) {
			form, header := applyAuth(t, ClientAuth{Method: ClientSecretJWT, ClientID: "id", ClientSecret: secret64, SigningAlgorithm: alg})
			if len(header) != 0 || form.Has("client_secret") {
				t.Fatalf("the secret must only sign: body %v header %v", form, header)
			}
			claims, hdr := verifyAssertion(t, form, []byte(secret64), alg)
			wantAssertionClaims(t, claims, "id", tokenURL)
			if hdr.KeyID != "" {
				t.Errorf("kid = %q on an HMAC assertion", hdr.KeyID)
			}
		})
	}
}

func TestPrivateKeyJWT(t *testing.T) {
	k := testKeys()
	for _, tc := range []struct {
		alg string
		key crypto.Signer
		pub any
	}{{"RS256", k.rsa, &k.rsa.PublicKey}, {"ES256", k.ec, &k.ec.PublicKey}} {
		t.Run(tc.alg, func(t *testing.T) {
			a := ClientAuth{Method: PrivateKeyJWT, ClientID: "id", PrivateKey: tc.key, KeyID: "key-1", Audience: "https://id.example.com"}
			form, _ := applyAuth(t, a)
			claims, hdr := verifyAssertion(t, form, tc.pub, tc.alg)
			wantAssertionClaims(t, claims, "id", "https://id.example.com")
			if hdr.KeyID != "key-1" {
				t.Errorf("kid = %q, want key-1", hdr.KeyID)
			}
		})
	}
}

func TestAssertionsAreNeverReused(t *testing.T) {
	a := ClientAuth{Method: ClientSecretJWT, ClientID: "id", ClientSecret: secret64}
	f1, _ := applyAuth(t, a)
	f2, _ := applyAuth(t, a)
	c1, _ := verifyAssertion(t, f1, []byte(secret64), "HS256")
	c2, _ := verifyAssertion(t, f2, []byte(secret64), "HS256")
	if c1.ID == c2.ID || len(c1.ID) < 16 {
		t.Errorf("jti %q then %q: want a fresh random jti each time", c1.ID, c2.ID)
	}
}

func TestClientAuthConfigurationErrors(t *testing.T) {
	tests := []struct {
		name string
		auth ClientAuth
		says string
	}{
		{"short HS256 secret", ClientAuth{Method: ClientSecretJWT, ClientID: "id", ClientSecret: "short"}, "at least 32 bytes"},
		{"short HS512 secret", ClientAuth{Method: ClientSecretJWT, ClientID: "id", ClientSecret: secret64[:48], SigningAlgorithm: "HS512"}, "at least 64 bytes"},
		{"unknown HMAC", ClientAuth{Method: ClientSecretJWT, ClientID: "id", ClientSecret: secret64, SigningAlgorithm: "HS1"}, "not HS256"},
		{"no key", ClientAuth{Method: PrivateKeyJWT, ClientID: "id"}, "needs a private key"},
		{"key mismatch", ClientAuth{Method: PrivateKeyJWT, ClientID: "id", PrivateKey: testKeys().ec, SigningAlgorithm: "RS256"}, "does not fit"},
		{"unknown method", ClientAuth{Method: "tls_client_auth", ClientID: "id"}, "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.auth.apply(url.Values{}, http.Header{}, tokenURL, testNow)
			e := wantCode(t, err, sdk.CodeInvalidConfig)
			if !strings.Contains(e.Message, tt.says) {
				t.Errorf("message %q does not say %q", e.Message, tt.says)
			}
			wantNoLeak(t, err, tt.auth.ClientSecret)
		})
	}
}

// verifyAssertion checks the form carries an RFC 7523 assertion signed by key.
func verifyAssertion(t *testing.T, form url.Values, key any, alg string) (jwt.Claims, jose.Header) {
	t.Helper()
	if got := form.Get("client_assertion_type"); got != ClientAssertionType {
		t.Fatalf("client_assertion_type = %q", got)
	}
	if form.Get("client_id") != "id" {
		t.Errorf("client_id = %q, want it in the body too", form.Get("client_id"))
	}
	tok, err := jwt.ParseSigned(form.Get("client_assertion"), []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
	if err != nil {
		t.Fatalf("assertion: %v", err)
	}
	var claims jwt.Claims
	if err := tok.Claims(key, &claims); err != nil {
		t.Fatalf("assertion signature: %v", err)
	}
	hdr := tok.Headers[0]
	if hdr.Algorithm != alg || hdr.ExtraHeaders["typ"] != "JWT" {
		t.Errorf("header alg=%s typ=%v, want %s JWT", hdr.Algorithm, hdr.ExtraHeaders["typ"], alg)
	}
	return claims, hdr
}

func wantAssertionClaims(t *testing.T, c jwt.Claims, clientID, aud string) {
	t.Helper()
	if c.Issuer != clientID || c.Subject != clientID {
		t.Errorf("iss=%q sub=%q, want both %q", c.Issuer, c.Subject, clientID)
	}
	if len(c.Audience) != 1 || c.Audience[0] != aud {
		t.Errorf("aud = %v, want %q", c.Audience, aud)
	}
	if c.ID == "" {
		t.Error("no jti")
	}
	if !c.IssuedAt.Time().Equal(testNow) || !c.Expiry.Time().Equal(testNow.Add(AssertionLifetime)) {
		t.Errorf("iat=%v exp=%v, want %v and 5 minutes later", c.IssuedAt.Time(), c.Expiry.Time(), testNow)
	}
}
