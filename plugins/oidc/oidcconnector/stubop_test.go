package oidcconnector

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/idplug/idplug/internal/stubprovider"
	"github.com/idplug/idplug/sdk"
)

// The stub stands in for a provider only where a real one will not misbehave: it
// serves the ID tokens a test forges (bad signatures, alg none, wrong claims...).

const stubClientID = "stub-client"
const stubSecret = "stub-secret-0123456789-0123456789-0123456789"
const stubRedirect = "https://idplug.example/callback/oidc"

// stubOP is an OpenID Provider on the shared stub provider: discovery, a JWK set, a
// token endpoint that hands out the ID token a test makes, and userinfo.
type stubOP struct {
	*stubprovider.Provider
	key *rsa.PrivateKey
	kid string

	mu       sync.Mutex
	keys     []jose.JSONWebKey
	idToken  func(nonce string) string // what the token endpoint returns
	userInfo map[string]any
	nonce    string // the nonce of the last authorization request
	// cacheControl is sent with the discovery document and the JWK set.
	cacheControl string

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
	s := &stubOP{Provider: stubprovider.New(t), key: key, kid: "k1", prefix: prefix, issuer: issuer}
	s.keys = []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1", Algorithm: "RS256", Use: "sig"}}
	s.HandleFunc("GET "+s.discoveryPath(), func(w http.ResponseWriter, r *http.Request) {
		iss := s.issuer
		if iss == "" {
			iss = s.URL() + s.prefix
		}
		s.setCacheControl(w)
		stubprovider.WriteJSON(w, http.StatusOK, map[string]any{
			"issuer": iss, "authorization_endpoint": s.URL() + "/authorize", "token_endpoint": s.URL() + "/token",
			"userinfo_endpoint": s.URL() + "/userinfo", "jwks_uri": s.URL() + "/jwks",
			"id_token_signing_alg_values_supported": []string{"RS256", "ES256"},
		})
	})
	s.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		s.setCacheControl(w)
		s.mu.Lock()
		defer s.mu.Unlock()
		stubprovider.WriteJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: s.keys})
	})
	s.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		if s.checkToken != nil {
			if err := s.checkToken(r); err != nil {
				stubprovider.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_client", "error_description": err.Error()})
				return
			}
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		tok := ""
		if s.idToken != nil {
			tok = s.idToken(s.nonce)
		}
		stubprovider.WriteJSON(w, http.StatusOK, map[string]any{"access_token": "at-0123456789", "token_type": "Bearer", "expires_in": 3600, "id_token": tok})
	})
	s.HandleFunc("GET /userinfo", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		stubprovider.WriteJSON(w, http.StatusOK, s.userInfo)
	})
	return s
}

func (s *stubOP) setCacheControl(w http.ResponseWriter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cacheControl != "" {
		w.Header().Set("Cache-Control", s.cacheControl)
	}
}

func (s *stubOP) discoveryPath() string { return s.prefix + "/.well-known/openid-configuration" }

// discoveryFetches and jwksFetches count the fetches of the discovery document and
// of the JWK set.
func (s *stubOP) discoveryFetches() int { return len(s.Requests(s.discoveryPath())) }

func (s *stubOP) jwksFetches() int { return len(s.Requests("/jwks")) }

// claims are a valid ID token's claims for nonce; a test changes them.
func (s *stubOP) claims(nonce string) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": s.URL() + s.prefix, "sub": "user-1", "aud": stubClientID, "nonce": nonce,
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		"name": "Stub User", "email": "stub@example.com", "email_verified": true,
	}
}

func (s *stubOP) config(extra map[string]any) map[string]any {
	cfg := map[string]any{
		"issuer": s.URL() + s.prefix, "clientId": stubClientID, "clientSecret": stubSecret,
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
