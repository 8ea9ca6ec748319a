package oidcconnector

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/idplug/idplug/internal/oidctest"
	"github.com/idplug/idplug/internal/plugintest"
	"github.com/idplug/idplug/sdk"
)

// The tests in this file sign in against a real OpenID Provider (oidc-provider,
// through internal/oidctest): discovery, client authentication, PKCE, nonces and ID
// token signatures come from a certified server, not from stubs.

func TestMain(m *testing.M) {
	code := m.Run()
	plugintest.Cleanup()
	os.Exit(code)
}

const realRedirect = "https://app.example.com/callback/oidc"

type method struct {
	id     string
	client oidctest.Client
	config map[string]any
}

func authMethods(t *testing.T) []method {
	rsaKey, rsaJWKS := oidctest.NewRSAKey(t)
	ecKey, ecJWKS := oidctest.NewECKey(t)
	secret := oidctest.NewClientSecret(t)
	return []method{
		{"basic", oidctest.Client{AuthMethod: "client_secret_basic", Secret: secret}, map[string]any{"clientSecret": secret}},
		{"post", oidctest.Client{AuthMethod: "client_secret_post", Secret: secret}, map[string]any{"clientSecret": secret}},
		{"jwt", oidctest.Client{AuthMethod: "client_secret_jwt", Secret: secret}, map[string]any{"clientSecret": secret, "clientSecretJwtSigningAlgorithm": "HS512"}},
		{"pk-rs256", oidctest.Client{AuthMethod: "private_key_jwt", JWKS: rsaJWKS}, map[string]any{"privateKey": pemKey(t, rsaKey), "privateKeyId": rsaJWKS.Keys[0].KeyID}},
		{"pk-es256", oidctest.Client{AuthMethod: "private_key_jwt", JWKS: ecJWKS, IDTokenSignedResponseAlg: "ES256"}, map[string]any{"privateKey": pemKey(t, ecKey), "privateKeyId": ecJWKS.Keys[0].KeyID}},
		{"public", oidctest.Client{AuthMethod: "none", IDTokenSignedResponseAlg: "EdDSA"}, map[string]any{}},
	}
}

// realCallback starts a sign-in and has the provider answer it: the
// authorization (its URL and session) and the callback's parameters.
func realCallback(t *testing.T, op *oidctest.Provider, in *Instance) (*sdk.Authorization, map[string]string) {
	t.Helper()
	ctx := context.Background()
	auth, err := connector{}.AuthorizationURI(ctx, in, sdk.AuthorizationRequest{RedirectURI: realRedirect, State: "state-1"})
	if err != nil {
		t.Fatalf("AuthorizationURI: %v", err)
	}
	callback, err := op.Authorize(ctx, auth.RedirectTo, realRedirect)
	if err != nil {
		t.Fatal(err)
	}
	data := map[string]string{}
	for k, v := range callback.Query() {
		data[k] = v[0]
	}
	return auth, data
}

// realSignIn runs one sign-in through the provider.
func realSignIn(t *testing.T, op *oidctest.Provider, in *Instance) *sdk.UserInfoResult {
	t.Helper()
	auth, data := realCallback(t, op, in)
	res, err := connector{}.UserInfo(context.Background(), in, sdk.UserInfoRequest{Session: auth.Session, Callback: data})
	if err != nil {
		t.Fatalf("UserInfo: %v", err)
	}
	return res
}

// TestRealProviderSignInForEachAuthMethod: discovery, then a full sign-in per client
// authentication method, ID tokens signed with RS256, ES256 and EdDSA; then a
// refresh, whose new ID token is verified too.
func TestRealProviderSignInForEachAuthMethod(t *testing.T) {
	methods := authMethods(t)
	var clients []oidctest.Client
	for _, m := range methods {
		m.client.ID = "client-" + m.id
		m.client.RedirectURIs = []string{realRedirect}
		clients = append(clients, m.client)
	}
	op := oidctest.Start(t, oidctest.Config{Clients: clients})
	for _, m := range methods {
		t.Run(m.id, func(t *testing.T) {
			cfg := map[string]any{
				"issuer": op.Issuer, "clientId": "client-" + m.id, "tokenEndpointAuthMethod": m.client.AuthMethod,
				"scope": "profile email phone", "storeTokens": true, "fetchUserInfo": true,
			}
			for k, v := range m.config {
				cfg[k] = v
			}
			in := parse(t, cfg)
			res := realSignIn(t, op, in)
			u := res.UserInfo
			if u.ID != "alice" || u.Name == nil || *u.Name != "Alice Example" || u.Email == nil || *u.Email != "alice@example.com" ||
				u.Phone == nil || *u.Phone != "+15555550100" || u.Avatar == nil {
				t.Errorf("profile = %+v", u)
			}
			if res.Tokens == nil || res.Tokens.IDToken == "" || res.Tokens.RefreshToken == "" {
				t.Fatalf("tokens = %+v", res.Tokens)
			}
			renewed, err := connector{}.Refresh(context.Background(), in, res.Tokens.RefreshToken)
			if err != nil || renewed.AccessToken == "" {
				t.Fatalf("Refresh = %+v, %v", renewed, err)
			}
		})
	}
}

// TestRealProviderWithLogtoConfig: Logto's configuration, endpoints and
// idTokenVerificationConfig given one by one, no discovery; userinfo merged.
func TestRealProviderWithLogtoConfig(t *testing.T) {
	secret := oidctest.NewClientSecret(t)
	op := oidctest.Start(t, oidctest.Config{Clients: []oidctest.Client{{ID: "logto", Secret: secret, AuthMethod: "client_secret_post", RedirectURIs: []string{realRedirect}}}})
	in := parse(t, map[string]any{
		"authorizationEndpoint": op.AuthorizationEndpoint(), "tokenEndpoint": op.TokenEndpoint(),
		"userInfoEndpoint": op.UserinfoEndpoint(), "clientId": "logto", "clientSecret": secret,
		"scope": "profile email", "responseType": "code", "grantType": "authorization_code",
		"idTokenVerificationConfig": map[string]any{"jwksUri": op.JWKSURI(), "issuer": op.Issuer},
		"authRequestOptionalConfig": map[string]any{"prompt": "consent", "uiLocales": "en"},
		"customConfig":              map[string]any{},
	})
	res := realSignIn(t, op, in)
	if res.UserInfo.ID != "alice" || res.UserInfo.Email == nil {
		t.Errorf("profile = %+v", res.UserInfo)
	}
	// The same configuration with another issuer expected: refused by the iss check.
	wrong := parse(t, map[string]any{
		"authorizationEndpoint": op.AuthorizationEndpoint(), "tokenEndpoint": op.TokenEndpoint(),
		"clientId": "logto", "clientSecret": secret, "scope": "openid",
		"idTokenVerificationConfig": map[string]any{"jwksUri": op.JWKSURI(), "issuer": "https://elsewhere.example"},
	})
	ctx := context.Background()
	auth, _ := connector{}.AuthorizationURI(ctx, wrong, sdk.AuthorizationRequest{RedirectURI: realRedirect, State: "s"})
	callback, err := op.Authorize(ctx, auth.RedirectTo, realRedirect)
	if err != nil {
		t.Fatal(err)
	}
	_, err = connector{}.UserInfo(ctx, wrong, sdk.UserInfoRequest{Session: auth.Session, Callback: map[string]string{"code": callback.Query().Get("code"), "state": "s"}})
	refusedBecause(t, err, sdk.CodeSocialIDTokenInvalid, checkIssuer)
}

// TestRealProviderCallbackIssWithoutDiscovery: a Logto configuration knows its
// issuer from idTokenVerificationConfig.issuer, and a callback's iss naming
// another server is refused before the code is redeemed (RFC 9207 2.4), as
// with discovery. The provider sends iss in every callback.
func TestRealProviderCallbackIssWithoutDiscovery(t *testing.T) {
	secret := oidctest.NewClientSecret(t)
	op := oidctest.Start(t, oidctest.Config{Clients: []oidctest.Client{{ID: "logto", Secret: secret, AuthMethod: "client_secret_post", RedirectURIs: []string{realRedirect}}}})
	in := parse(t, map[string]any{
		"authorizationEndpoint": op.AuthorizationEndpoint(), "tokenEndpoint": op.TokenEndpoint(),
		"clientId": "logto", "clientSecret": secret, "scope": "openid",
		// A list: iss may be any issuer listed.
		"idTokenVerificationConfig": map[string]any{"jwksUri": op.JWKSURI(), "issuer": []string{"https://previous.example", op.Issuer}},
	})
	ctx := context.Background()
	auth, callback := realCallback(t, op, in)
	if callback["iss"] != op.Issuer {
		t.Fatalf("the provider's callback has iss %q, want %q", callback["iss"], op.Issuer)
	}
	mixedUp := map[string]string{}
	for k, v := range callback {
		mixedUp[k] = v
	}
	mixedUp["iss"] = "https://attacker.example"
	_, err := connector{}.UserInfo(ctx, in, sdk.UserInfoRequest{Session: auth.Session, Callback: mixedUp})
	if e := sdk.AsError(err); e == nil || e.Code != sdk.CodeInvalidRequestParameters || e.Details["iss"] != "https://attacker.example" {
		t.Fatalf("a callback whose iss names another server: err = %v, want invalid_request_parameters naming its iss", err)
	}
	// The code was not sent: the provider still redeems it (it refuses a code
	// presented twice).
	if _, err := (connector{}).UserInfo(ctx, in, sdk.UserInfoRequest{Session: auth.Session, Callback: callback}); err != nil {
		t.Fatalf("the provider's own callback, after the refused one: %v", err)
	}
}

// TestRealProviderACR: acr_values is a request the provider may not meet.
// With requireAcr, an ID token whose acr is not one asked for is refused; the
// provider here signs one account in with a second factor and another with a
// password only, whatever was asked.
func TestRealProviderACR(t *testing.T) {
	const mfa, pwd = "urn:idplug:test:mfa", "urn:idplug:test:pwd"
	secret := oidctest.NewClientSecret(t)
	op := oidctest.Start(t, oidctest.Config{
		Clients: []oidctest.Client{{ID: "acr", Secret: secret, RedirectURIs: []string{realRedirect}}},
		Accounts: []oidctest.Account{
			{Sub: "strong", ACR: mfa, Claims: map[string]any{"name": "Strong"}},
			{Sub: "weak", ACR: pwd, Claims: map[string]any{"name": "Weak"}},
		},
	})
	config := func(user string, require bool) map[string]any {
		return map[string]any{"issuer": op.Issuer, "clientId": "acr", "clientSecret": secret, "tokenEndpointAuthMethod": "client_secret_basic",
			"requireAcr": require, "storeTokens": true, "authRequestOptionalConfig": map[string]any{"acrValues": mfa, "loginHint": user, "maxAge": "60"}}
	}
	strong := parse(t, config("strong", true))
	res := realSignIn(t, op, strong)
	if res.UserInfo.ID != "strong" || !strings.Contains(string(res.UserInfo.RawData), `"acr":"`+mfa+`"`) {
		t.Fatalf("id %q, rawData %s", res.UserInfo.ID, res.UserInfo.RawData)
	}
	// Ten minutes on, past max_age and its grace, the tokens refresh: a
	// refreshed ID token carries the sign-in's auth_time and acr (OIDC Core
	// 12.2), whose checks were the sign-in's.
	strong.verification.now = func() time.Time { return time.Now().Add(10 * time.Minute) }
	if _, err := (connector{}).Refresh(context.Background(), strong, res.Tokens.RefreshToken); err != nil {
		t.Fatalf("a refresh after max_age: %v", err)
	}

	weak := parse(t, config("weak", true))
	auth, data := realCallback(t, op, weak)
	if u, _ := url.Parse(auth.RedirectTo); u.Query().Get("acr_values") != mfa {
		t.Fatalf("the authorization URL asks for acr_values %q", u.Query().Get("acr_values"))
	}
	_, err := connector{}.UserInfo(context.Background(), weak, sdk.UserInfoRequest{Session: auth.Session, Callback: data})
	refusedBecause(t, err, sdk.CodeSocialIDTokenInvalid, checkACR)
	if e := sdk.AsError(err); !strings.Contains(e.Message, `its acr "`+pwd+`" is not one of the acr_values`) {
		t.Fatalf("message = %q", e.Message)
	}

	// Without requireAcr, the same sign-in goes through, as before.
	if res := realSignIn(t, op, parse(t, config("weak", false))); res.UserInfo.ID != "weak" {
		t.Fatalf("id %q", res.UserInfo.ID)
	}
}

func pemKey(t *testing.T, key any) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// TestRealProviderKeyRotation: the provider replaces its signing keys; the
// connector, holding the old JWK set, sees an unknown key id, fetches the set
// again and verifies the new token.
func TestRealProviderKeyRotation(t *testing.T) {
	secret := oidctest.NewClientSecret(t)
	op := oidctest.Start(t, oidctest.Config{KeyRotation: true, Clients: []oidctest.Client{{ID: "rot", Secret: secret, RedirectURIs: []string{realRedirect}}}})
	in := parse(t, map[string]any{"issuer": op.Issuer, "clientId": "rot", "clientSecret": secret, "tokenEndpointAuthMethod": "client_secret_basic", "minKeyRefreshInterval": "0s"})
	first := realSignIn(t, op, in)
	oldKeys := in.provider.keys.keys
	if err := op.RotateKeys(context.Background()); err != nil {
		t.Fatal(err)
	}
	second := realSignIn(t, op, in)
	if first.UserInfo.ID != "alice" || second.UserInfo.ID != "alice" {
		t.Fatalf("profiles = %+v, %+v", first.UserInfo, second.UserInfo)
	}
	for _, k := range in.provider.keys.keys {
		for _, old := range oldKeys {
			if k.KeyID == old.KeyID {
				t.Errorf("key %q is still cached after the rotation", k.KeyID)
			}
		}
	}
}
