package oauth2connector

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// TestLogtoParity checks, for every client authentication method, that the
// authorization URL and the token request carry exactly what Logto's OAuth standard
// connector sends, plus idplug's documented additions and nothing else:
//
//   - authorization URL: code_challenge and code_challenge_method (PKCE);
//   - token request: code_verifier (PKCE), and an Accept header;
//   - methods Logto does not have: private_key_jwt and none.
func TestLogtoParity(t *testing.T) {
	rsaKey, ecKey := testKeys()
	tests := []struct {
		name string
		// config adds to the common configuration.
		config map[string]any
		// logtoBody is what Logto puts in the token request body besides
		// grant_type, code, redirect_uri and the customConfig entries.
		logtoBody []string
		// basic: Logto sends Authorization: Basic base64(clientId:clientSecret).
		basic bool
		// assertion: the client_assertion's algorithm and verification key.
		alg string
		key any
		// ours marks a method Logto does not have.
		ours bool
	}{
		{name: "client_secret_post", config: map[string]any{"tokenEndpointAuthMethod": "client_secret_post"}, logtoBody: []string{"client_id", "client_secret"}},
		{name: "default is client_secret_post", config: map[string]any{}, logtoBody: []string{"client_id", "client_secret"}},
		{name: "client_secret_basic", config: map[string]any{"tokenEndpointAuthMethod": "client_secret_basic"}, basic: true},
		{name: "client_secret_jwt HS256", config: map[string]any{"tokenEndpointAuthMethod": "client_secret_jwt"}, logtoBody: assertionBody, alg: "HS256", key: []byte(testSecret)},
		{name: "client_secret_jwt HS384", config: map[string]any{"tokenEndpointAuthMethod": "client_secret_jwt", "clientSecretJwtSigningAlgorithm": "HS384"}, logtoBody: assertionBody, alg: "HS384", key: []byte(testSecret)},
		{name: "client_secret_jwt HS512", config: map[string]any{"tokenEndpointAuthMethod": "client_secret_jwt", "clientSecretJwtSigningAlgorithm": "HS512"}, logtoBody: assertionBody, alg: "HS512", key: []byte(testSecret)},
		{name: "private_key_jwt RS256", config: map[string]any{"tokenEndpointAuthMethod": "private_key_jwt", "privateKey": pemPKCS8(t, rsaKey), "clientSecret": nil}, logtoBody: assertionBody, alg: "RS256", key: &rsaKey.PublicKey, ours: true},
		{name: "private_key_jwt ES256", config: map[string]any{"tokenEndpointAuthMethod": "private_key_jwt", "privateKey": pemPKCS8(t, ecKey), "clientSecret": nil}, logtoBody: assertionBody, alg: "ES256", key: &ecKey.PublicKey, ours: true},
		{name: "none", config: map[string]any{"tokenEndpointAuthMethod": "none", "clientSecret": nil}, logtoBody: []string{"client_id"}, ours: true},
	}
	for _, tt := range tests {
		for _, pkce := range []string{"S256", "none"} {
			t.Run(tt.name+"/pkce "+pkce, func(t *testing.T) {
				p := newStubProvider(t)
				tt.config["customConfig"] = map[string]any{"audience": "https://api.example.com", "prompt": "consent"}
				tt.config["pkce"] = pkce
				if tt.name == "none" && pkce == "none" {
					// A public client without PKCE: refused (RFC 9700 2.1.1;
					// TestPublicClientNeedsPKCE).
					if raw, _ := json.Marshal(p.config(tt.config)); accepted(raw) {
						t.Fatal("a public client without PKCE was accepted")
					}
					return
				}
				in := mustParse(t, p.config(tt.config))
				started := time.Now()
				auth, _, err := signIn(t, in, nil)
				if err != nil {
					t.Fatal(err)
				}

				// The authorization URL.
				wantURL := []string{"response_type", "client_id", "redirect_uri", "state", "scope", "audience", "prompt"}
				if pkce == "S256" {
					wantURL = append(wantURL, "code_challenge", "code_challenge_method")
				}
				q := mustURLQuery(t, auth.RedirectTo)
				if got := keys(q); !reflect.DeepEqual(got, sorted(wantURL)) {
					t.Errorf("authorization URL parameters = %v\nwant %v", got, sorted(wantURL))
				}
				if q.Get("response_type") != "code" || q.Get("client_id") != "client-1" || q.Get("redirect_uri") != testRedirectURI ||
					q.Get("state") != "STATE-1" || q.Get("scope") != "openid profile" || q.Get("audience") != "https://api.example.com" {
					t.Errorf("authorization URL = %s", auth.RedirectTo)
				}

				// The token request.
				r := p.Requests("/token")[0]
				wantBody := append([]string{"grant_type", "code", "redirect_uri", "audience", "prompt"}, tt.logtoBody...)
				if pkce == "S256" {
					wantBody = append(wantBody, "code_verifier")
				}
				if got := keys(r.Form); !reflect.DeepEqual(got, sorted(wantBody)) {
					t.Errorf("token request body = %v\nwant %v", got, sorted(wantBody))
				}
				if r.Form.Get("grant_type") != "authorization_code" || r.Form.Get("code") != "CODE-1" || r.Form.Get("redirect_uri") != testRedirectURI {
					t.Errorf("token request body = %v", r.Form)
				}
				if r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
					t.Errorf("Content-Type = %q", r.Header.Get("Content-Type"))
				}
				wantAuthorization := ""
				if tt.basic {
					wantAuthorization = "Basic " + base64.StdEncoding.EncodeToString([]byte("client-1:"+testSecret))
				}
				if got := r.Header.Get("Authorization"); got != wantAuthorization {
					t.Errorf("Authorization = %q, want %q", got, wantAuthorization)
				}
				if tt.alg != "" {
					checkAssertion(t, r.Form, tt.alg, tt.key, p.URL()+"/token", started)
				}
			})
		}
	}
}

var assertionBody = []string{"client_id", "client_assertion_type", "client_assertion"}

// checkAssertion verifies the client_assertion's signature and its RFC 7523 claims.
func checkAssertion(t *testing.T, form url.Values, alg string, key any, aud string, started time.Time) {
	t.Helper()
	if got := form.Get("client_assertion_type"); got != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		t.Errorf("client_assertion_type = %q", got)
	}
	tok, err := jwt.ParseSigned(form.Get("client_assertion"), []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
	if err != nil {
		t.Fatalf("client_assertion is not a %s JWT: %v", alg, err)
	}
	var c jwt.Claims
	if err := tok.Claims(key, &c); err != nil {
		t.Fatalf("client_assertion signature: %v", err)
	}
	if c.Issuer != "client-1" || c.Subject != "client-1" || len(c.Audience) != 1 || c.Audience[0] != aud || c.ID == "" {
		t.Errorf("claims iss=%q sub=%q aud=%v jti=%q", c.Issuer, c.Subject, c.Audience, c.ID)
	}
	iat, exp := c.IssuedAt.Time(), c.Expiry.Time()
	if iat.Before(started.Truncate(time.Second)) || iat.After(time.Now()) || exp.Sub(iat) != 5*time.Minute {
		t.Errorf("iat=%v exp=%v, want now and 5 minutes later", iat, exp)
	}
	if err := c.Validate(jwt.Expected{Issuer: "client-1", Subject: "client-1", AnyAudience: jwt.Audience{aud}}); err != nil {
		t.Errorf("claims: %v", err)
	}
}

func mustURLQuery(t *testing.T, raw string) url.Values {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

func keys(v url.Values) []string {
	out := make([]string, 0, len(v))
	for k := range v {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}
