package oauth2connector

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/internal/oidctest"
	"github.com/idplug/idplug/internal/plugintest"
	"github.com/idplug/idplug/sdk"
)

// The tests in this file run the real plugin binary in the real host against a real
// OpenID Provider (oidc-provider, through internal/oidctest): client authentication,
// PKCE, code reuse and the iss parameter are checked by a certified server, not by
// stubs.

func TestMain(m *testing.M) {
	code := m.Run()
	plugintest.Cleanup()
	os.Exit(code)
}

// realProvider is one provider, one host running the plugin, and an instance per
// scenario.
type realProvider struct {
	op    *oidctest.Provider
	host  *host.Host
	proxy *countingProxy
}

// instances configured on the host, each a scenario.
const (
	basicID      = "basic"
	postID       = "post"
	publicID     = "public"
	wrongSecret  = "wrong-secret"
	issuerOK     = "issuer-ok"
	issuerWrong  = "issuer-wrong"
	proxiedJWT   = "jwt-audience"
	proxiedNoAud = "jwt-no-audience"
	unknownUser  = "unknown-user"
)

var hmacInstances = map[string]string{"jwt-hs256": "HS256", "jwt-hs384": "HS384", "jwt-hs512": "HS512"}

func redirectURI(instance string) string { return "https://app.example.com/callback/" + instance }

func startRealProvider(t *testing.T) *realProvider {
	t.Helper()
	rsaKey, rsaJWKS := oidctest.NewRSAKey(t)
	ecKey, ecJWKS := oidctest.NewECKey(t)
	secrets := map[string]string{}
	client := func(id, method string, configure func(*oidctest.Client)) oidctest.Client {
		c := oidctest.Client{ID: id, AuthMethod: method, RedirectURIs: []string{redirectURI(id), redirectURI(wrongSecret), redirectURI(issuerOK),
			redirectURI(issuerWrong), redirectURI(proxiedJWT), redirectURI(proxiedNoAud), redirectURI(unknownUser)}}
		if method != "none" && method != "private_key_jwt" {
			c.Secret = oidctest.NewClientSecret(t)
			secrets[id] = c.Secret
		}
		if configure != nil {
			configure(&c)
		}
		return c
	}
	clients := []oidctest.Client{
		client(basicID, "client_secret_basic", nil),
		client(postID, "client_secret_post", nil),
		client(publicID, "none", nil),
		client("rs256", "private_key_jwt", func(c *oidctest.Client) { c.JWKS, c.AuthSigningAlg = rsaJWKS, "RS256" }),
		client("es256", "private_key_jwt", func(c *oidctest.Client) { c.JWKS, c.AuthSigningAlg = ecJWKS, "ES256" }),
	}
	for id, alg := range hmacInstances {
		clients = append(clients, client(id, "client_secret_jwt", func(c *oidctest.Client) { c.AuthSigningAlg = alg }))
	}
	op := oidctest.Start(t, oidctest.Config{Clients: clients})
	proxy := newCountingProxy(t, op.Issuer)

	base := func(clientID string, extra map[string]any) json.RawMessage {
		cfg := map[string]any{
			"authorizationEndpoint": op.AuthorizationEndpoint(),
			"tokenEndpoint":         op.TokenEndpoint(),
			"userInfoEndpoint":      op.UserinfoEndpoint(),
			"clientId":              clientID,
			"clientSecret":          secrets[clientID],
			"scope":                 "openid profile email phone",
			"profileMap":            map[string]string{"id": "sub", "name": "name", "avatar": "picture", "email": "email", "phone": "phone_number"},
			"storeTokens":           true,
			"requestTimeout":        "5s",
		}
		for k, v := range extra {
			cfg[k] = v
		}
		raw, err := json.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	configs := []host.InstanceConfig{
		{ID: basicID, Config: base(basicID, map[string]any{"tokenEndpointAuthMethod": "client_secret_basic"})},
		{ID: postID, Config: base(postID, map[string]any{"tokenEndpointAuthMethod": "client_secret_post"})},
		{ID: publicID, Config: base(publicID, map[string]any{"tokenEndpointAuthMethod": "none"})},
		{ID: "rs256", Config: base("rs256", map[string]any{"tokenEndpointAuthMethod": "private_key_jwt",
			"privateKey": pemPKCS8(t, rsaKey), "privateKeyId": rsaJWKS.Keys[0].KeyID})},
		{ID: "es256", Config: base("es256", map[string]any{"tokenEndpointAuthMethod": "private_key_jwt",
			"privateKey": pemPKCS8(t, ecKey), "privateKeyId": ecJWKS.Keys[0].KeyID, "privateKeySigningAlgorithm": "ES256"})},
		{ID: wrongSecret, Config: base(basicID, map[string]any{"tokenEndpointAuthMethod": "client_secret_basic",
			"clientSecret": oidctest.NewClientSecret(t), "tokenEndpoint": proxy.url(op.TokenEndpoint())})},
		{ID: issuerOK, Config: base(postID, map[string]any{"issuer": op.Issuer})},
		{ID: issuerWrong, Config: base(postID, map[string]any{"issuer": "https://id.example.com", "tokenEndpoint": proxy.url(op.TokenEndpoint())})},
		{ID: proxiedJWT, Config: base("jwt-hs256", map[string]any{"tokenEndpointAuthMethod": "client_secret_jwt",
			"tokenEndpoint": proxy.url(op.TokenEndpoint()), "clientAssertionAudience": op.Issuer})},
		{ID: proxiedNoAud, Config: base("jwt-hs256", map[string]any{"tokenEndpointAuthMethod": "client_secret_jwt",
			"tokenEndpoint": proxy.url(op.TokenEndpoint())})},
		{ID: unknownUser, Config: base(postID, map[string]any{"customConfig": map[string]string{"login_hint": "nobody"}})},
	}
	for id, alg := range hmacInstances {
		configs = append(configs, host.InstanceConfig{ID: id, Config: base(id, map[string]any{
			"tokenEndpointAuthMethod": "client_secret_jwt", "clientSecretJwtSigningAlgorithm": alg})})
	}

	dir := plugintest.Folder(t)
	plugintest.Install(t, dir, plugintest.Binary(t, "./plugins/oauth2"), "oauth2")
	ctx := context.Background()
	h, err := host.Open(ctx, host.Options{PluginDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	if refused := h.Refused(); len(refused) > 0 {
		t.Fatalf("the plugin was refused: %+v", refused)
	}
	for i := range configs {
		configs[i].Plugin = "oauth2"
	}
	if err := h.Configure(ctx, configs); err != nil {
		t.Fatal(err)
	}
	return &realProvider{op: op, host: h, proxy: proxy}
}

// flow is one sign-in up to the callback.
type flow struct {
	auth     *sdk.Authorization
	callback map[string]string
}

// authorize starts a sign-in with instance and lets the provider sign the user in.
func (rp *realProvider) authorize(t *testing.T, instance string) flow {
	t.Helper()
	ctx := context.Background()
	auth, err := rp.host.AuthorizationURI(ctx, instance, redirectURI(instance), rand.Text())
	if err != nil {
		t.Fatalf("AuthorizationURI: %v", err)
	}
	cb, err := rp.op.Authorize(ctx, auth.RedirectTo, redirectURI(instance))
	if err != nil {
		t.Fatalf("the provider did not send the browser back: %v", err)
	}
	callback := map[string]string{}
	for k, v := range cb.Query() {
		callback[k] = v[0]
	}
	return flow{auth: auth, callback: callback}
}

func (rp *realProvider) userInfo(instance string, f flow) (*sdk.UserInfoResult, error) {
	res, err := rp.host.UserInfo(context.Background(), instance, f.auth.Session, f.callback)
	if err != nil {
		return nil, err
	}
	return &res.UserInfoResult, nil
}

func (rp *realProvider) signIn(t *testing.T, instance string) *sdk.UserInfoResult {
	t.Helper()
	res, err := rp.userInfo(instance, rp.authorize(t, instance))
	if err != nil {
		t.Fatalf("UserInfo: %v", err)
	}
	return res
}

func TestRealProvider(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an OpenID Provider and the plugin binary")
	}
	rp := startRealProvider(t)

	t.Run("every client authentication method signs in and refreshes", func(t *testing.T) {
		for _, id := range []string{basicID, postID, "jwt-hs256", "jwt-hs384", "jwt-hs512", "rs256", "es256", publicID} {
			t.Run(id, func(t *testing.T) {
				res := rp.signIn(t, id)
				wantAlice(t, res.UserInfo)
				tok := res.Tokens
				if tok == nil || tok.AccessToken == "" || tok.RefreshToken == "" || tok.IDToken == "" || tok.ExpiresAt.IsZero() {
					t.Fatalf("tokens = %+v", tok)
				}
				refreshed, err := rp.host.RefreshTokens(context.Background(), id, tok.RefreshToken)
				if err != nil {
					t.Fatalf("RefreshTokens: %v", err)
				}
				if refreshed.AccessToken == "" || refreshed.AccessToken == tok.AccessToken || refreshed.RefreshToken == "" {
					t.Errorf("refreshed tokens = %+v", refreshed)
				}
				// The refresh token to keep (rotated or not) works again.
				if _, err := rp.host.RefreshTokens(context.Background(), id, refreshed.RefreshToken); err != nil {
					t.Errorf("second refresh: %v", err)
				}
			})
		}
	})

	t.Run("PKCE is sent by default", func(t *testing.T) {
		f := rp.authorize(t, postID)
		q := mustURLQuery(t, f.auth.RedirectTo)
		if q.Get("code_challenge_method") != "S256" || f.auth.Session["codeVerifier"] == "" {
			t.Errorf("authorization URL %s, session %v", f.auth.RedirectTo, f.auth.Session)
		}
		if _, err := rp.userInfo(postID, f); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a wrong secret is refused once, clearly", func(t *testing.T) {
		before := rp.proxy.tokenRequests.Load()
		_, err := rp.userInfo(wrongSecret, rp.authorize(t, wrongSecret))
		e := wantCode(t, err, sdk.CodeInvalidConfig)
		if !strings.Contains(e.Message, "invalid_client") || !strings.Contains(e.Message, "clientId") {
			t.Errorf("message = %q", e.Message)
		}
		if e.Details["error"] != "invalid_client" || e.Details["status"] != float64(401) {
			t.Errorf("details = %v", e.Details)
		}
		if n := rp.proxy.tokenRequests.Load() - before; n != 1 {
			t.Errorf("the code was sent %d times", n)
		}
	})

	t.Run("a reused code is refused", func(t *testing.T) {
		f := rp.authorize(t, postID)
		if _, err := rp.userInfo(postID, f); err != nil {
			t.Fatal(err)
		}
		_, err := rp.userInfo(postID, f)
		wantCode(t, err, sdk.CodeSocialAuthCodeInvalid)
	})

	t.Run("a tampered PKCE verifier is refused", func(t *testing.T) {
		for _, id := range []string{postID, publicID} {
			f := rp.authorize(t, id)
			f.auth.Session["codeVerifier"] = strings.Repeat("x", 43)
			_, err := rp.userInfo(id, f)
			wantCode(t, err, sdk.CodeSocialAuthCodeInvalid)
		}
	})

	t.Run("the state is checked", func(t *testing.T) {
		f := rp.authorize(t, postID)
		f.callback["state"] = rand.Text()
		_, err := rp.userInfo(postID, f)
		wantCode(t, err, sdk.CodeInvalidRequestParameters)
	})

	t.Run("the provider's real issuer passes the iss check", func(t *testing.T) {
		f := rp.authorize(t, issuerOK)
		if f.callback["iss"] != rp.op.Issuer {
			t.Fatalf("the provider sent iss %q, want %q", f.callback["iss"], rp.op.Issuer)
		}
		res, err := rp.userInfo(issuerOK, f)
		if err != nil {
			t.Fatal(err)
		}
		wantAlice(t, res.UserInfo)
	})

	t.Run("a configured wrong issuer fails before the code is sent", func(t *testing.T) {
		before := rp.proxy.tokenRequests.Load()
		_, err := rp.userInfo(issuerWrong, rp.authorize(t, issuerWrong))
		e := wantCode(t, err, sdk.CodeInvalidRequestParameters)
		if !strings.Contains(e.Message, rp.op.Issuer) {
			t.Errorf("message %q does not name the iss received", e.Message)
		}
		if n := rp.proxy.tokenRequests.Load() - before; n != 0 {
			t.Errorf("the code was sent %d times", n)
		}
	})

	t.Run("the assertion audience can be the issuer", func(t *testing.T) {
		// Behind a proxy the token endpoint URL is not one the provider knows as its
		// own: the assertion is accepted only with the audience override.
		res := rp.signIn(t, proxiedJWT)
		wantAlice(t, res.UserInfo)
		_, err := rp.userInfo(proxiedNoAud, rp.authorize(t, proxiedNoAud))
		wantCode(t, err, sdk.CodeInvalidConfig)
	})

	t.Run("a provider error in the callback", func(t *testing.T) {
		f := rp.authorize(t, unknownUser)
		_, err := rp.userInfo(unknownUser, f)
		e := wantCode(t, err, sdk.CodeAuthorizationFailed)
		if e.Details["error"] != "access_denied" {
			t.Errorf("details = %v", e.Details)
		}
	})
}

// wantAlice checks the mapping of the provider's /me claims for its default account.
func wantAlice(t *testing.T, u sdk.UserInfo) {
	t.Helper()
	a := oidctest.DefaultAccount()
	want := map[string]*string{
		"name": sdk.String(a.Claims["name"].(string)), "avatar": sdk.String(a.Claims["picture"].(string)),
		"email": sdk.String(a.Claims["email"].(string)), "phone": sdk.String(a.Claims["phone_number"].(string)),
	}
	got := map[string]*string{"name": u.Name, "avatar": u.Avatar, "email": u.Email, "phone": u.Phone}
	if u.ID != a.Sub {
		t.Errorf("id = %q, want %q", u.ID, a.Sub)
	}
	for k, w := range want {
		if got[k] == nil || *got[k] != *w {
			t.Errorf("%s = %v, want %q", k, got[k], *w)
		}
	}
	var raw map[string]any
	if err := json.Unmarshal(u.RawData, &raw); err != nil || raw["sub"] != a.Sub || raw["email_verified"] != true {
		t.Errorf("rawData = %s", u.RawData)
	}
}

// countingProxy forwards to the provider and counts token requests, to prove that
// a code is sent exactly once.
type countingProxy struct {
	srv           *httptest.Server
	tokenRequests atomic.Int32
}

func newCountingProxy(t *testing.T, target string) *countingProxy {
	t.Helper()
	to, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &countingProxy{}
	p.srv = httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		if r.In.Method == http.MethodPost && strings.HasSuffix(r.In.URL.Path, "/token") {
			p.tokenRequests.Add(1)
		}
		r.SetURL(to)
	}})
	t.Cleanup(p.srv.Close)
	return p
}

// url returns endpoint (a URL of the provider) as reached through the proxy.
func (p *countingProxy) url(endpoint string) string {
	u, _ := url.Parse(endpoint)
	proxy, _ := url.Parse(p.srv.URL)
	u.Scheme, u.Host = proxy.Scheme, proxy.Host
	return u.String()
}
