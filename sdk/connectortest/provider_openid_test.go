package connectortest_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/idplug/idplug/sdk/connectortest"
	"github.com/idplug/idplug/sdk/oauth2kit"
)

// getJSON fetches a public document of p as a relying party would.
func getJSON(t *testing.T, url string, into any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET %s: %s, %s", url, resp.Status, resp.Header.Get("Content-Type"))
	}
	if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
		t.Fatal(err)
	}
}

// verified checks raw's signature against the key set p publishes, as a
// relying party does, and returns its claims.
func verified(t *testing.T, p *connectortest.Provider, raw string) map[string]any {
	t.Helper()
	var disco struct {
		Issuer  string   `json:"issuer"`
		JWKSURI string   `json:"jwks_uri"`
		Algs    []string `json:"id_token_signing_alg_values_supported"`
		Token   string   `json:"token_endpoint"`
	}
	getJSON(t, p.DiscoveryURL(), &disco)
	if disco.Issuer != p.Issuer() || disco.JWKSURI != p.JWKSURI() || disco.Token != p.TokenEndpoint() || len(disco.Algs) != 1 || disco.Algs[0] != "RS256" {
		t.Fatalf("discovery document = %+v", disco)
	}
	var set jose.JSONWebKeySet
	getJSON(t, disco.JWKSURI, &set)
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatalf("the ID token is not a JWS: %v", err)
	}
	keys := set.Key(jws.Signatures[0].Header.KeyID)
	if len(keys) != 1 || !keys[0].IsPublic() {
		t.Fatalf("key id %q names %d public keys of %+v", jws.Signatures[0].Header.KeyID, len(keys), set)
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		t.Fatalf("the ID token does not verify with the published key: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

func TestProviderIssuesIDTokensAsAnOpenIDProvider(t *testing.T) {
	p := connectortest.NewProvider(t, connectortest.WithIDTokens(),
		connectortest.WithProfile(`{"id":12345678901234567890,"name":"Ada","email":"ada@example.com","email_verified":true}`))
	c := newClient(t, p, oauth2kit.ClientSecretBasic)
	ctx := context.Background()
	pkce := oauth2kit.NewPKCE()
	u, err := oauth2kit.AuthorizationURL(oauth2kit.AuthorizationRequest{
		Endpoint: p.AuthorizationEndpoint(), ClientID: p.ClientID(), RedirectURI: redirect, State: "s1",
		Scope: "openid email", CodeChallenge: pkce.Challenge, Extra: map[string]string{"nonce": "n-0123456789"},
	})
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now().Unix()
	cb, err := p.Authorize(u)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.token.Exchange(ctx, cb["code"], redirect, pkce.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	claims := verified(t, p, tok.IDToken)
	sum := sha256.Sum256([]byte(tok.AccessToken))
	for k, want := range map[string]any{
		"iss": p.Issuer(), "aud": p.ClientID(), "sub": "12345678901234567890", "nonce": "n-0123456789",
		"name": "Ada", "email": "ada@example.com", "email_verified": true,
		"at_hash": base64.RawURLEncoding.EncodeToString(sum[:16]),
	} {
		if claims[k] != want {
			t.Errorf("claim %s = %#v; want %#v", k, claims[k], want)
		}
	}
	iat, exp, authTime := claims["iat"].(float64), claims["exp"].(float64), claims["auth_time"].(float64)
	if int64(iat) < before || exp-iat != 600 || int64(authTime) < before || authTime > iat {
		t.Errorf("iat %v, exp %v, auth_time %v (sign-in at %d)", iat, exp, authTime, before)
	}
	if got := p.Issued(); got[len(got)-1] != tok.IDToken {
		t.Errorf("Issued does not end with the ID token: the kit's leak checks would miss it")
	}

	// A refresh gives a new one, for the same sign-in, without the nonce.
	p.ServeUnverifiedEmail(true)
	renewed, err := c.token.Refresh(ctx, tok.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	again := verified(t, p, renewed.IDToken)
	if _, ok := again["nonce"]; ok || again["sub"] != claims["sub"] || again["auth_time"] != claims["auth_time"] || again["email_verified"] != false {
		t.Errorf("refreshed claims = %v", again)
	}
	if reqs := p.RequestsTo(connectortest.JWKSEndpoint); len(reqs) != 2 {
		t.Errorf("%d requests recorded at the key set; want 2", len(reqs))
	}
}

func TestProviderIssuesNoIDTokenWithoutOpenIDScopeOrOption(t *testing.T) {
	for name, p := range map[string]*connectortest.Provider{
		"without WithIDTokens":     connectortest.NewProvider(t),
		"without the openid scope": connectortest.NewProvider(t, connectortest.WithIDTokens()),
	} {
		c := newClient(t, p, oauth2kit.ClientSecretPost)
		cb, verifier := c.authorize(t, "s1") // scope "profile email"
		tok, err := c.token.Exchange(context.Background(), cb["code"], redirect, verifier)
		if err != nil || tok.IDToken != "" {
			t.Errorf("%s: id_token %q, %v; want none", name, tok.IDToken, err)
		}
	}
	resp, err := http.Get(connectortest.NewProvider(t).DiscoveryURL())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("a provider without WithIDTokens serves a discovery document: %s", resp.Status)
	}
}

func TestProviderSpoilsTheNextIDTokenOnRequest(t *testing.T) {
	p := connectortest.NewProvider(t, connectortest.WithIDTokens())
	c := newClient(t, p, oauth2kit.ClientSecretPost)
	signIn := func() string {
		code, verifier := authorizeOpenID(t, p)
		tok, err := c.token.Exchange(context.Background(), code, redirect, verifier)
		if err != nil {
			t.Fatal(err)
		}
		return tok.IDToken
	}
	p.EditNextIDToken(func(c map[string]any) {
		c["aud"] = "another-client"
		c["seen"] = len(p.Requests()) // an edit may call the provider: it runs outside its lock
	})
	if claims := verified(t, p, signIn()); claims["aud"] != "another-client" || claims["seen"] == nil {
		t.Errorf("edited aud = %v", claims["aud"])
	}
	if claims := verified(t, p, signIn()); claims["aud"] != p.ClientID() {
		t.Errorf("an edit outlived its token: aud = %v", claims["aud"])
	}

	p.ForgeNextIDToken()
	forged := signIn()
	var set jose.JSONWebKeySet
	getJSON(t, p.JWKSURI(), &set)
	jws, err := jose.ParseSigned(forged, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	keys := set.Key(jws.Signatures[0].Header.KeyID)
	if len(keys) != 1 {
		t.Fatalf("the forged token's key id names %d published keys; want the provider's own", len(keys))
	}
	if _, err := jws.Verify(keys[0]); err == nil {
		t.Error("a forged ID token verifies with the published key")
	}

	p.ForgeNextIDToken()
	p.ClearFailures()
	verified(t, p, signIn()) // cleared: signed by the provider's key again

	p.OmitNextIDToken()
	if id := signIn(); id != "" {
		t.Errorf("OmitNextIDToken: the answer carries an ID token")
	}
	verified(t, p, signIn())
}

func TestProviderIDTokenMistakesAreSaid(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "EditNextIDToken needs a provider made WithIDTokens") {
			t.Errorf("EditNextIDToken without WithIDTokens: panic %v", r)
		}
	}()
	// A profile with no sub or id can make no ID token: a clear server_error.
	p := connectortest.NewProvider(t, connectortest.WithIDTokens(), connectortest.WithProfile(`{"name":"Nobody"}`))
	c := newClient(t, p, oauth2kit.ClientSecretPost)
	code, verifier := authorizeOpenID(t, p)
	if _, err := c.token.Exchange(context.Background(), code, redirect, verifier); err == nil || !strings.Contains(err.Error(), "no sub or id") {
		t.Errorf("an ID token without sub: %v", err)
	}
	// A public client's provider says so in its discovery document.
	var disco struct {
		Auth []string `json:"token_endpoint_auth_methods_supported"`
	}
	getJSON(t, connectortest.NewProvider(t, connectortest.WithIDTokens(), connectortest.WithClient("app", "")).DiscoveryURL(), &disco)
	if len(disco.Auth) != 1 || disco.Auth[0] != "none" {
		t.Errorf("a public client's provider lists %v", disco.Auth)
	}
	connectortest.NewProvider(t).EditNextIDToken(func(map[string]any) {})
}

// authorizeOpenID authorizes at p with the openid scope and PKCE, and returns
// the code and the verifier.
func authorizeOpenID(t *testing.T, p *connectortest.Provider) (string, string) {
	t.Helper()
	pkce := oauth2kit.NewPKCE()
	u, _ := oauth2kit.AuthorizationURL(oauth2kit.AuthorizationRequest{Endpoint: p.AuthorizationEndpoint(),
		ClientID: p.ClientID(), RedirectURI: redirect, State: "s", Scope: "openid", CodeChallenge: pkce.Challenge})
	cb, err := p.Authorize(u)
	if err != nil {
		t.Fatal(err)
	}
	return cb["code"], pkce.Verifier
}
