package connector

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/idplug/idplug/sdk"
)

// The stub stands in for a provider only where a real one will not misbehave: it
// serves the ID tokens a test forges (bad signatures, alg none, wrong claims...).

const stubClientID = "stub-client"
const stubSecret = "stub-secret-0123456789-0123456789-0123456789"
const stubRedirect = "https://idplug.example/callback/oidc"

type stubOP struct {
	t   *testing.T
	srv *httptest.Server
	key *rsa.PrivateKey
	kid string

	mu       sync.Mutex
	keys     []jose.JSONWebKey
	idToken  func(nonce string) string // what the token endpoint returns
	userInfo map[string]any
	nonce    string // the nonce of the last authorization request

	discoveryFetches atomic.Int32
	jwksFetches      atomic.Int32

	// Quirks of the presets' providers.
	prefix     string                      // where the issuer lives under the server (Microsoft: /common/v2.0)
	issuer     string                      // the discovery document's issuer; the URL + prefix when empty
	checkToken func(r *http.Request) error // refuses a token request (Apple's client secret)

	lastAuthURL string
}

func newStubOP(t *testing.T) *stubOP { return newStubOPWith(t, "", "") }

// newStubOPWith serves discovery under prefix, naming issuer there (a template
// such as URL/{tenantid}/v2.0 for Microsoft) when set.
func newStubOPWith(t *testing.T, prefix, issuer string) *stubOP {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s := &stubOP{t: t, key: key, kid: "k1", prefix: prefix, issuer: issuer}
	s.keys = []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1", Algorithm: "RS256", Use: "sig"}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+prefix+"/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		s.discoveryFetches.Add(1)
		iss := s.issuer
		if iss == "" {
			iss = s.srv.URL + s.prefix
		}
		writeJSON(w, map[string]any{
			"issuer": iss, "authorization_endpoint": s.srv.URL + "/authorize", "token_endpoint": s.srv.URL + "/token",
			"userinfo_endpoint": s.srv.URL + "/userinfo", "jwks_uri": s.srv.URL + "/jwks",
			"id_token_signing_alg_values_supported": []string{"RS256", "ES256"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		s.jwksFetches.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		writeJSON(w, jose.JSONWebKeySet{Keys: s.keys})
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		if s.checkToken != nil {
			if err := s.checkToken(r); err != nil {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client", "error_description": err.Error()})
				return
			}
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		tok := ""
		if s.idToken != nil {
			tok = s.idToken(s.nonce)
		}
		writeJSON(w, map[string]any{"access_token": "at-0123456789", "token_type": "Bearer", "expires_in": 3600, "id_token": tok})
	})
	mux.HandleFunc("GET /userinfo", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		writeJSON(w, s.userInfo)
	})
	s.srv = httptest.NewServer(mux)
	t.Cleanup(s.srv.Close)
	return s
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// claims are a valid ID token's claims for nonce; a test changes them.
func (s *stubOP) claims(nonce string) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": s.srv.URL + s.prefix, "sub": "user-1", "aud": stubClientID, "nonce": nonce,
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		"name": "Stub User", "email": "stub@example.com", "email_verified": true,
	}
}

// sign makes a JWS over claims with key, alg and kid.
func sign(t *testing.T, claims map[string]any, alg jose.SignatureAlgorithm, key any, kid string) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
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

func (s *stubOP) config(extra map[string]any) map[string]any {
	cfg := map[string]any{
		"issuer": s.srv.URL + s.prefix, "clientId": stubClientID, "clientSecret": stubSecret,
		"tokenEndpointAuthMethod": "client_secret_basic", "scope": "openid profile email",
		"minKeyRefreshInterval": "0s",
	}
	for k, v := range extra {
		cfg[k] = v
	}
	return cfg
}

func parse(t *testing.T, cfg map[string]any) *Instance {
	t.Helper()
	raw, _ := json.Marshal(cfg)
	in, err := parseConfig(raw)
	if err != nil {
		t.Fatalf("parseConfig: %v", err)
	}
	return in
}

// signIn runs a sign-in against the stub, its token endpoint answering with
// makeToken(nonce of this sign-in).
func (s *stubOP) signIn(t *testing.T, in *Instance, makeToken func(nonce string) string) (*sdk.UserInfoResult, error) {
	t.Helper()
	return s.signInWith(t, in, makeToken, nil)
}

// signInWith also puts extra parameters into the callback (Apple's user).
func (s *stubOP) signInWith(t *testing.T, in *Instance, makeToken func(nonce string) string, extra map[string]string) (*sdk.UserInfoResult, error) {
	t.Helper()
	ctx := context.Background()
	auth, err := connector{}.AuthorizationURI(ctx, in, sdk.AuthorizationRequest{RedirectURI: stubRedirect, State: "st"})
	if err != nil {
		t.Fatalf("AuthorizationURI: %v", err)
	}
	u, _ := url.Parse(auth.RedirectTo)
	s.mu.Lock()
	s.nonce = u.Query().Get("nonce")
	s.idToken = makeToken
	s.mu.Unlock()
	if s.nonce == "" || s.nonce != auth.Session[sessionNonce] {
		t.Fatalf("nonce in URL %q, in session %q", s.nonce, auth.Session[sessionNonce])
	}
	s.lastAuthURL = auth.RedirectTo
	callback := map[string]string{"code": "c0de", "state": "st"}
	for k, v := range extra {
		callback[k] = v
	}
	return connector{}.UserInfo(ctx, in, sdk.UserInfoRequest{Session: auth.Session, Callback: callback})
}

func refusedBecause(t *testing.T, err error, code sdk.ErrorCode, check string) {
	t.Helper()
	var e *sdk.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want %s (%s)", err, code, check)
	}
	if e.Code != code || e.Details["check"] != check {
		t.Fatalf("err = %s %v: %s, want %s (%s)", e.Code, e.Details["check"], e.Message, code, check)
	}
}

func hashOf(alg crypto.Hash, s string) string {
	h := alg.New()
	h.Write([]byte(s))
	sum := h.Sum(nil)
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}
