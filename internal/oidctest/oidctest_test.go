package oidctest_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"

	"github.com/idplug/idplug/internal/oidctest"
)

// The redirect URI is only compared, never requested.
const redirectURI = "http://127.0.0.1:1/callback"

const allScopes = "openid profile email phone"

var bob = oidctest.Account{
	Sub: "bob",
	Claims: map[string]any{
		"name":           "Bob Example",
		"email":          "bob@example.com",
		"email_verified": false,
	},
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return context.WithValue(ctx, oauth2.HTTPClient, &http.Client{Timeout: 15 * time.Second})
}

func randomString(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

type authRequest struct {
	clientID  string
	scope     string
	state     string
	nonce     string
	verifier  string // PKCE; empty for none
	loginHint string
}

func (r authRequest) url(op *oidctest.Provider) string {
	q := url.Values{
		"response_type": {"code"},
		"client_id":     {r.clientID},
		"redirect_uri":  {redirectURI},
		"scope":         {r.scope},
		"state":         {r.state},
	}
	if r.nonce != "" {
		q.Set("nonce", r.nonce)
	}
	if r.verifier != "" {
		q.Set("code_challenge", oauth2.S256ChallengeFromVerifier(r.verifier))
		q.Set("code_challenge_method", "S256")
	}
	if r.loginHint != "" {
		q.Set("login_hint", r.loginHint)
	}
	return op.AuthorizationEndpoint() + "?" + q.Encode()
}

// authorize runs the request and returns the authorization code after
// checking the callback's state and iss parameters.
func authorize(t *testing.T, ctx context.Context, op *oidctest.Provider, r authRequest) string {
	t.Helper()
	callback, err := op.Authorize(ctx, r.url(op), redirectURI)
	if err != nil {
		t.Fatalf("Authorize: %v", err)
	}
	q := callback.Query()
	if e := q.Get("error"); e != "" {
		t.Fatalf("authorization error response: %s: %s", e, q.Get("error_description"))
	}
	if got := q.Get("state"); got != r.state {
		t.Errorf("callback state = %q, want %q", got, r.state)
	}
	if got := q.Get("iss"); got != op.Issuer {
		t.Errorf("callback iss = %q, want %q", got, op.Issuer)
	}
	code := q.Get("code")
	if code == "" {
		t.Fatalf("callback has no code: %s", callback)
	}
	return code
}

func oauthConfig(op *oidctest.Provider, clientID, secret string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     clientID,
		ClientSecret: secret,
		RedirectURL:  redirectURI,
		Scopes:       strings.Fields(allScopes),
		Endpoint: oauth2.Endpoint{
			AuthURL:   op.AuthorizationEndpoint(),
			TokenURL:  op.TokenEndpoint(),
			AuthStyle: oauth2.AuthStyleInParams,
		},
	}
}

func userinfo(t *testing.T, ctx context.Context, op *oidctest.Provider, accessToken string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, op.UserinfoEndpoint(), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	resp, err := (&http.Client{Timeout: 15 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil
	}
	var claims map[string]any
	if err := json.Unmarshal(body, &claims); err != nil {
		t.Fatalf("userinfo: %v: %s", err, body)
	}
	return resp.StatusCode, claims
}

func wantClaims(t *testing.T, got map[string]any, want oidctest.Account) {
	t.Helper()
	if got["sub"] != want.Sub {
		t.Errorf("sub = %v, want %q", got["sub"], want.Sub)
	}
	for k, v := range want.Claims {
		if got[k] != v {
			t.Errorf("claim %s = %#v, want %#v", k, got[k], v)
		}
	}
}

func wantGrantError(t *testing.T, err error, code string) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("error = %v, want an OAuth error response %s", err, code)
	}
	if re.ErrorCode != code {
		t.Fatalf("error code = %q (%s), want %q", re.ErrorCode, re.ErrorDescription, code)
	}
}

func TestConfidentialClient(t *testing.T) {
	ctx := testContext(t)
	secret := oidctest.NewClientSecret(t)
	op := oidctest.Start(t, oidctest.Config{
		Clients: []oidctest.Client{{
			ID:           "web",
			Secret:       secret,
			AuthMethod:   "client_secret_post",
			RedirectURIs: []string{redirectURI},
		}},
	})
	if !strings.HasPrefix(op.Issuer, "http://127.0.0.1:") {
		t.Fatalf("Issuer = %q, want a loopback http issuer", op.Issuer)
	}
	if op.UserinfoEndpoint() != op.Issuer+"/me" {
		t.Errorf("UserinfoEndpoint = %q", op.UserinfoEndpoint())
	}
	if got := op.Discovery()["authorization_response_iss_parameter_supported"]; got != true {
		t.Errorf("authorization_response_iss_parameter_supported = %v, want true", got)
	}

	r := authRequest{clientID: "web", scope: allScopes, state: randomString(t), nonce: randomString(t)}
	code := authorize(t, ctx, op, r)

	cfg := oauthConfig(op, "web", secret)
	tok, err := cfg.Exchange(ctx, code)
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	if strings.Contains(tok.AccessToken, ".") {
		t.Errorf("access token %q looks like a JWT, want an opaque token", tok.AccessToken)
	}
	if tok.RefreshToken == "" {
		t.Error("no refresh token issued")
	}

	// The ID token is signed with the keys published at jwks_uri.
	rawIDToken, _ := tok.Extra("id_token").(string)
	idToken, err := jwt.ParseSigned(rawIDToken, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatalf("parsing the ID token: %v", err)
	}
	var keys jose.JSONWebKeySet
	getJSON(t, ctx, op.JWKSURI(), &keys)
	var idClaims struct {
		jwt.Claims
		Nonce string `json:"nonce"`
	}
	if err := idToken.Claims(&keys, &idClaims); err != nil {
		t.Fatalf("verifying the ID token: %v", err)
	}
	if err := idClaims.Validate(jwt.Expected{Issuer: op.Issuer, AnyAudience: jwt.Audience{"web"}, Subject: "alice"}); err != nil {
		t.Errorf("ID token claims: %v", err)
	}
	if idClaims.Nonce != r.nonce {
		t.Errorf("ID token nonce = %q, want %q", idClaims.Nonce, r.nonce)
	}

	status, claims := userinfo(t, ctx, op, tok.AccessToken)
	if status != http.StatusOK {
		t.Fatalf("userinfo status = %d", status)
	}
	wantClaims(t, claims, oidctest.DefaultAccount())

	// Refresh.
	refreshed, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if refreshed.AccessToken == "" || refreshed.AccessToken == tok.AccessToken {
		t.Fatalf("refresh returned access token %q", refreshed.AccessToken)
	}
	status, claims = userinfo(t, ctx, op, refreshed.AccessToken)
	if status != http.StatusOK {
		t.Fatalf("userinfo with the refreshed token: status %d", status)
	}
	wantClaims(t, claims, oidctest.DefaultAccount())

	// A code can be used once; reusing it also revokes what it produced.
	_, err = cfg.Exchange(ctx, code)
	wantGrantError(t, err, "invalid_grant")
	if status, _ := userinfo(t, ctx, op, refreshed.AccessToken); status != http.StatusUnauthorized {
		t.Errorf("userinfo after code reuse: status %d, want 401", status)
	}

	// A wrong secret is rejected.
	code = authorize(t, ctx, op, authRequest{clientID: "web", scope: allScopes, state: randomString(t)})
	_, err = oauthConfig(op, "web", oidctest.NewClientSecret(t)).Exchange(ctx, code)
	wantGrantError(t, err, "invalid_client")
}

func TestPublicClientPKCE(t *testing.T) {
	ctx := testContext(t)
	op := oidctest.Start(t, oidctest.Config{
		Clients: []oidctest.Client{{
			ID:           "spa",
			AuthMethod:   "none",
			RedirectURIs: []string{redirectURI},
		}},
		Accounts: []oidctest.Account{oidctest.DefaultAccount(), bob},
	})
	cfg := oauthConfig(op, "spa", "")

	t.Run("flow and refresh", func(t *testing.T) {
		verifier := oauth2.GenerateVerifier()
		code := authorize(t, ctx, op, authRequest{clientID: "spa", scope: allScopes, state: randomString(t), verifier: verifier})
		tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("Exchange: %v", err)
		}
		status, claims := userinfo(t, ctx, op, tok.AccessToken)
		if status != http.StatusOK {
			t.Fatalf("userinfo status = %d", status)
		}
		wantClaims(t, claims, oidctest.DefaultAccount())

		refreshed, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if refreshed.RefreshToken == "" || refreshed.RefreshToken == tok.RefreshToken {
			t.Errorf("refresh tokens of public clients should rotate; got %q", refreshed.RefreshToken)
		}
		if status, _ := userinfo(t, ctx, op, refreshed.AccessToken); status != http.StatusOK {
			t.Errorf("userinfo with the refreshed token: status %d", status)
		}
	})

	t.Run("wrong verifier", func(t *testing.T) {
		verifier := oauth2.GenerateVerifier()
		code := authorize(t, ctx, op, authRequest{clientID: "spa", scope: allScopes, state: randomString(t), verifier: verifier})
		_, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
		wantGrantError(t, err, "invalid_grant")
	})

	t.Run("missing verifier", func(t *testing.T) {
		verifier := oauth2.GenerateVerifier()
		code := authorize(t, ctx, op, authRequest{clientID: "spa", scope: allScopes, state: randomString(t), verifier: verifier})
		_, err := cfg.Exchange(ctx, code)
		wantGrantError(t, err, "invalid_grant")
	})

	t.Run("PKCE required", func(t *testing.T) {
		r := authRequest{clientID: "spa", scope: allScopes, state: randomString(t)}
		callback, err := op.Authorize(ctx, r.url(op), redirectURI)
		if err != nil {
			t.Fatalf("Authorize: %v", err)
		}
		if got := callback.Query().Get("error"); got != "invalid_request" {
			t.Errorf("error = %q (%s), want invalid_request", got, callback.Query().Get("error_description"))
		}
		if got := callback.Query().Get("iss"); got != op.Issuer {
			t.Errorf("error response iss = %q, want %q", got, op.Issuer)
		}
	})

	t.Run("login_hint", func(t *testing.T) {
		verifier := oauth2.GenerateVerifier()
		code := authorize(t, ctx, op, authRequest{clientID: "spa", scope: allScopes, state: randomString(t), verifier: verifier, loginHint: "bob"})
		tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("Exchange: %v", err)
		}
		_, claims := userinfo(t, ctx, op, tok.AccessToken)
		wantClaims(t, claims, bob)
		if _, ok := claims["phone_number"]; ok {
			t.Errorf("bob has no phone_number, got %v", claims["phone_number"])
		}
	})

	t.Run("unknown login_hint", func(t *testing.T) {
		r := authRequest{clientID: "spa", scope: allScopes, state: randomString(t), verifier: oauth2.GenerateVerifier(), loginHint: "mallory"}
		callback, err := op.Authorize(ctx, r.url(op), redirectURI)
		if err != nil {
			t.Fatalf("Authorize: %v", err)
		}
		if got := callback.Query().Get("error"); got != "access_denied" {
			t.Errorf("error = %q, want access_denied", got)
		}
	})

	t.Run("scope limits claims", func(t *testing.T) {
		verifier := oauth2.GenerateVerifier()
		code := authorize(t, ctx, op, authRequest{clientID: "spa", scope: "openid email", state: randomString(t), verifier: verifier})
		tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("Exchange: %v", err)
		}
		_, claims := userinfo(t, ctx, op, tok.AccessToken)
		if claims["email"] != "alice@example.com" {
			t.Errorf("email = %v", claims["email"])
		}
		if _, ok := claims["name"]; ok {
			t.Errorf("name released without the profile scope")
		}
	})

	t.Run("error page", func(t *testing.T) {
		r := authRequest{clientID: "nobody", scope: allScopes, state: randomString(t)}
		_, err := op.Authorize(ctx, r.url(op), redirectURI)
		if err == nil || !strings.Contains(err.Error(), "400") || !strings.Contains(err.Error(), "invalid_client") {
			t.Errorf("Authorize with an unknown client: err = %v, want a 400 invalid_client error", err)
		}
	})
}

func clientAssertion(t *testing.T, key any, alg jose.SignatureAlgorithm, kid, clientID, audience string) string {
	t.Helper()
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"),
	)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	s, err := jwt.Signed(signer).Claims(jwt.Claims{
		Issuer:   clientID,
		Subject:  clientID,
		Audience: jwt.Audience{audience},
		ID:       randomString(t),
		IssuedAt: jwt.NewNumericDate(now),
		Expiry:   jwt.NewNumericDate(now.Add(time.Minute)),
	}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestJWTClientAuthentication(t *testing.T) {
	ctx := testContext(t)
	secret := oidctest.NewClientSecret(t)
	rsaKey, rsaJWKS := oidctest.NewRSAKey(t)
	ecKey, ecJWKS := oidctest.NewECKey(t)
	op := oidctest.Start(t, oidctest.Config{
		Clients: []oidctest.Client{
			{ID: "secret-jwt", Secret: secret, AuthMethod: "client_secret_jwt", RedirectURIs: []string{redirectURI}},
			{ID: "rsa", JWKS: rsaJWKS, RedirectURIs: []string{redirectURI}},
			{ID: "ec", JWKS: ecJWKS, AuthMethod: "private_key_jwt", AuthSigningAlg: "ES256", RedirectURIs: []string{redirectURI}, IDTokenSignedResponseAlg: "ES256"},
		},
	})

	for _, tc := range []struct {
		client string
		key    any
		alg    jose.SignatureAlgorithm
		kid    string
	}{
		{"secret-jwt", []byte(secret), jose.HS256, ""},
		{"secret-jwt", []byte(secret), jose.HS512, ""},
		{"rsa", rsaKey, jose.RS256, rsaJWKS.Keys[0].KeyID},
		{"ec", ecKey, jose.ES256, ecJWKS.Keys[0].KeyID},
	} {
		t.Run(tc.client+"/"+string(tc.alg), func(t *testing.T) {
			code := authorize(t, ctx, op, authRequest{clientID: tc.client, scope: allScopes, state: randomString(t)})
			assertion := clientAssertion(t, tc.key, tc.alg, tc.kid, tc.client, op.Issuer)
			cfg := oauthConfig(op, tc.client, "")
			tok, err := cfg.Exchange(ctx, code,
				oauth2.SetAuthURLParam("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
				oauth2.SetAuthURLParam("client_assertion", assertion),
			)
			if err != nil {
				t.Fatalf("Exchange: %v", err)
			}
			if status, _ := userinfo(t, ctx, op, tok.AccessToken); status != http.StatusOK {
				t.Errorf("userinfo status = %d", status)
			}

			// The same assertion cannot be used twice.
			code = authorize(t, ctx, op, authRequest{clientID: tc.client, scope: allScopes, state: randomString(t)})
			_, err = cfg.Exchange(ctx, code,
				oauth2.SetAuthURLParam("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
				oauth2.SetAuthURLParam("client_assertion", assertion),
			)
			wantGrantError(t, err, "invalid_client")
		})
	}
}

func TestFormInteractions(t *testing.T) {
	ctx := testContext(t)
	secret := oidctest.NewClientSecret(t)
	op := oidctest.Start(t, oidctest.Config{
		Clients: []oidctest.Client{{
			ID:           "web",
			Name:         "Example App",
			Secret:       secret,
			RedirectURIs: []string{redirectURI},
		}},
		Accounts:     []oidctest.Account{oidctest.DefaultAccount(), bob},
		Interactions: oidctest.InteractionsForm,
	})
	r := authRequest{clientID: "web", scope: allScopes, state: randomString(t)}

	// Authorize is for the auto mode; here it stops at the sign-in page.
	if _, err := op.Authorize(ctx, r.url(op), redirectURI); err == nil || !strings.Contains(err.Error(), "200 OK") {
		t.Fatalf("Authorize in form mode: err = %v, want an error for the 200 sign-in page", err)
	}

	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	browser := &http.Client{
		Jar:     jar,
		Timeout: 15 * time.Second,
		CheckRedirect: func(req *http.Request, _ []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), redirectURI) {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
	resp, page := do(t, browser, mustRequest(t, ctx, http.MethodGet, r.url(op), nil))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sign-in page: status %d", resp.StatusCode)
	}
	for _, want := range []string{`id="username"`, `id="password"`, `id="sign-in"`, "Example App"} {
		if !strings.Contains(page, want) {
			t.Errorf("sign-in page lacks %s", want)
		}
	}
	m := regexp.MustCompile(`action="([^"]*/login)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no login form action in:\n%s", page)
	}
	action := resp.Request.URL.ResolveReference(&url.URL{Path: m[1]}).String()

	post := func(username, password string) (*http.Response, string) {
		form := url.Values{"username": {username}, "password": {password}}
		req := mustRequest(t, ctx, http.MethodPost, action, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return do(t, browser, req)
	}

	for _, bad := range [][2]string{{"mallory", "pw"}, {"bob", ""}} {
		resp, page := post(bad[0], bad[1])
		if resp.StatusCode != http.StatusOK || !strings.Contains(page, "Unknown username or password") || !strings.Contains(page, `id="sign-in"`) {
			t.Errorf("sign in as %q/%q: status %d, want the form again with an error:\n%s", bad[0], bad[1], resp.StatusCode, page)
		}
	}

	resp, _ = post("bob", "any password")
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: status %d, want a redirect to the client", resp.StatusCode)
	}
	callback, err := resp.Location()
	if err != nil {
		t.Fatal(err)
	}
	if got := callback.Query().Get("iss"); got != op.Issuer {
		t.Errorf("callback iss = %q", got)
	}
	if got := callback.Query().Get("state"); got != r.state {
		t.Errorf("callback state = %q", got)
	}
	tok, err := oauthConfig(op, "web", secret).Exchange(ctx, callback.Query().Get("code"))
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	_, claims := userinfo(t, ctx, op, tok.AccessToken)
	wantClaims(t, claims, bob)
}

func mustRequest(t *testing.T, ctx context.Context, method, target string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func do(t *testing.T, client *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	return resp, string(body)
}

func getJSON(t *testing.T, ctx context.Context, target string, v any) {
	t.Helper()
	resp, body := do(t, &http.Client{Timeout: 15 * time.Second}, mustRequest(t, ctx, http.MethodGet, target, nil))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d: %s", target, resp.StatusCode, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
}
