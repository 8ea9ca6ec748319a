package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"strings"
	"sync"
	"testing"

	"github.com/idplug/idplug/internal/oidctest"
)

const appRedirect = "https://app.test/callback"

// TestV1SignInForEachAuthMethod runs complete sign-ins through the idplug binary's /v1
// API against a real OpenID provider, one connector per client authentication method.
func TestV1SignInForEachAuthMethod(t *testing.T) {
	rsaKey, rsaJWKS := oidctest.NewRSAKey(t)
	ecKey, ecJWKS := oidctest.NewECKey(t)
	secret := oidctest.NewClientSecret(t)

	type method struct {
		id     string
		client oidctest.Client
		config map[string]any
	}
	methods := []method{
		{"basic", oidctest.Client{AuthMethod: "client_secret_basic", Secret: secret}, map[string]any{"clientSecret": secret}},
		{"post", oidctest.Client{AuthMethod: "client_secret_post", Secret: secret}, map[string]any{"clientSecret": secret}},
		{"jwt-hs256", oidctest.Client{AuthMethod: "client_secret_jwt", Secret: secret}, map[string]any{"clientSecret": secret, "clientSecretJwtSigningAlgorithm": "HS256"}},
		{"jwt-hs384", oidctest.Client{AuthMethod: "client_secret_jwt", Secret: secret}, map[string]any{"clientSecret": secret, "clientSecretJwtSigningAlgorithm": "HS384"}},
		{"jwt-hs512", oidctest.Client{AuthMethod: "client_secret_jwt", Secret: secret}, map[string]any{"clientSecret": secret, "clientSecretJwtSigningAlgorithm": "HS512"}},
		{"pk-rs256", oidctest.Client{AuthMethod: "private_key_jwt", JWKS: rsaJWKS}, map[string]any{"privateKey": pemKey(t, rsaKey), "privateKeyId": rsaJWKS.Keys[0].KeyID}},
		{"pk-es256", oidctest.Client{AuthMethod: "private_key_jwt", JWKS: ecJWKS}, map[string]any{"privateKey": pemKey(t, ecKey), "privateKeyId": ecJWKS.Keys[0].KeyID}},
		{"public", oidctest.Client{AuthMethod: "none"}, map[string]any{}},
	}
	var clients []oidctest.Client
	for _, m := range methods {
		m.client.ID = "client-" + m.id
		m.client.RedirectURIs = []string{appRedirect}
		clients = append(clients, m.client)
	}
	provider := oidctest.Start(t, oidctest.Config{Clients: clients})

	var connectors []map[string]any
	for _, m := range methods {
		cfg := map[string]any{
			"authorizationEndpoint":   provider.AuthorizationEndpoint(),
			"tokenEndpoint":           provider.TokenEndpoint(),
			"userInfoEndpoint":        provider.UserinfoEndpoint(),
			"issuer":                  provider.Issuer,
			"clientId":                "client-" + m.id,
			"tokenEndpointAuthMethod": m.client.AuthMethod,
			"scope":                   "openid profile email phone",
			"profileMap":              map[string]string{"id": "sub", "avatar": "picture", "phone": "phone_number"},
			"storeTokens":             true,
		}
		for k, v := range m.config {
			cfg[k] = v
		}
		connectors = append(connectors, map[string]any{"id": m.id, "plugin": "oauth2", "config": cfg})
	}
	p := startIdplug(t, pluginFolder(t, "oauth2"), jsonConfig(t, connectors))
	var seenMu sync.Mutex
	var seen []string // codes and tokens that must never be logged
	remember := func(values ...any) {
		seenMu.Lock()
		defer seenMu.Unlock()
		for _, v := range values {
			if s, ok := v.(string); ok && len(s) >= 8 {
				seen = append(seen, s)
			}
		}
	}

	for _, m := range methods {
		t.Run(m.id, func(t *testing.T) {
			status, auth := p.call(t, "POST", "/v1/connectors/"+m.id+"/authorization-uri", "", map[string]any{"redirectUri": appRedirect})
			mustEqual(t, "authorization-uri status", status, 200)
			callback, err := provider.Authorize(context.Background(), jsonPath(auth, "redirectTo").(string), appRedirect)
			if err != nil {
				t.Fatal(err)
			}
			data := map[string]string{}
			for k, v := range callback.Query() {
				data[k] = v[0]
			}
			status, body := p.call(t, "POST", "/v1/connectors/"+m.id+"/user-info", "", map[string]any{"session": jsonPath(auth, "session"), "data": data})
			mustEqual(t, "user-info status", status, 200)
			mustEqual(t, "id", jsonPath(body, "userInfo", "id"), "alice")
			mustEqual(t, "email", jsonPath(body, "userInfo", "email"), "alice@example.com")
			mustEqual(t, "name", jsonPath(body, "userInfo", "name") != nil, true)
			mustEqual(t, "token type", strings.ToLower(jsonPath(body, "tokens", "tokenType").(string)), "bearer")
			remember(data["code"], jsonPath(auth, "session"), jsonPath(body, "tokens", "accessToken"),
				jsonPath(body, "tokens", "refreshToken"), jsonPath(body, "tokens", "idToken"))
			refresh, _ := jsonPath(body, "tokens", "refreshToken").(string)
			if refresh == "" {
				t.Fatalf("no refresh token in %v", body)
			}

			status, body = p.call(t, "POST", "/v1/connectors/"+m.id+"/refresh", "", map[string]any{"refreshToken": refresh})
			mustEqual(t, "refresh status", status, 200)
			if jsonPath(body, "tokens", "accessToken") == "" {
				t.Fatalf("refresh = %v", body)
			}
			if renewed, _ := jsonPath(body, "tokens", "refreshToken").(string); renewed != "" {
				refresh = renewed // the provider may rotate refresh tokens
			}

			// The same callback again: idplug refuses the finished flow before the
			// provider sees the code a second time (which would make it revoke the
			// grant), so the refresh token keeps working.
			status, body = p.call(t, "POST", "/v1/connectors/"+m.id+"/user-info", "", map[string]any{"session": jsonPath(auth, "session"), "data": data})
			mustEqual(t, "reuse status", status, 400)
			mustEqual(t, "reuse code", jsonPath(body, "code"), "session_used")
			status, _ = p.call(t, "POST", "/v1/connectors/"+m.id+"/refresh", "", map[string]any{"refreshToken": refresh})
			mustEqual(t, "refresh after a refused replay", status, 200)
		})
	}
	// With debug logging on, no client secret, private key, session key, code, access,
	// refresh or ID token reached idplug's log, plugin lines included. Stopping first
	// writes out the request lines still buffered.
	p.stop(t)
	logs := p.logs.String()
	if !strings.Contains(logs, `"@level":"debug"`) {
		t.Fatal("debug logging is not on")
	}
	for _, s := range append([]string{secret, testSessionKey, "PRIVATE KEY"}, seen...) {
		if strings.Contains(logs, s) {
			t.Errorf("the log holds a secret %q...", s[:8])
		}
	}
	if len(seen) < len(methods)*4 {
		t.Fatalf("only %d codes and tokens were checked", len(seen))
	}
}

// jsonConfig writes an idplug config as JSON (which YAML reads as it is).
func jsonConfig(t *testing.T, connectors []map[string]any) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"listen":       "127.0.0.1:0",
		"public_url":   "http://127.0.0.1:1",
		"plugin_dir":   "PLUGIN_DIR",
		"session_keys": []string{"${IDPLUG_SESSION_KEY}"},
		"log_format":   "json",
		"log_level":    "debug",
		"connectors":   connectors,
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func pemKey(t *testing.T, key any) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// TestV1PerRequestScope asks for a scope per sign-in through the idplug binary: the
// provider grants what was asked, not the configured scope.
func TestV1PerRequestScope(t *testing.T) {
	secret := oidctest.NewClientSecret(t)
	provider := oidctest.Start(t, oidctest.Config{Clients: []oidctest.Client{
		{ID: "scoped", Secret: secret, AuthMethod: "client_secret_basic", RedirectURIs: []string{appRedirect}},
	}})
	p := startIdplug(t, pluginFolder(t, "oauth2"), jsonConfig(t, []map[string]any{{"id": "scoped", "plugin": "oauth2", "config": map[string]any{
		"authorizationEndpoint": provider.AuthorizationEndpoint(), "tokenEndpoint": provider.TokenEndpoint(),
		"userInfoEndpoint": provider.UserinfoEndpoint(), "clientId": "scoped", "clientSecret": secret,
		"tokenEndpointAuthMethod": "client_secret_basic", "scope": "openid",
		"profileMap": map[string]string{"id": "sub"}, "storeTokens": true,
	}}}))

	signIn := func(body map[string]any) map[string]any {
		t.Helper()
		status, auth := p.call(t, "POST", "/v1/connectors/scoped/authorization-uri", "", body)
		mustEqual(t, "authorization-uri status", status, 200)
		callback, err := provider.Authorize(context.Background(), jsonPath(auth, "redirectTo").(string), appRedirect)
		if err != nil {
			t.Fatal(err)
		}
		data := map[string]string{}
		for k, v := range callback.Query() {
			data[k] = v[0]
		}
		status, res := p.call(t, "POST", "/v1/connectors/scoped/user-info", "", map[string]any{"session": jsonPath(auth, "session"), "data": data})
		mustEqual(t, "user-info status", status, 200)
		return res
	}
	configured := signIn(map[string]any{"redirectUri": appRedirect})
	mustEqual(t, "email with the configured scope", jsonPath(configured, "userInfo", "email"), nil)
	asked := signIn(map[string]any{"redirectUri": appRedirect, "scope": "openid email"})
	mustEqual(t, "email with the asked scope", jsonPath(asked, "userInfo", "email"), "alice@example.com")
	if granted, _ := jsonPath(asked, "tokens", "scope").(string); !strings.Contains(granted, "email") {
		t.Errorf("granted scope = %q, want email in it", granted)
	}

	for _, bad := range []string{"openid  email", "openid\temail", "openid \"x\"", " openid", strings.Repeat("a", 3000)} {
		status, body := p.call(t, "POST", "/v1/connectors/scoped/authorization-uri", "", map[string]any{"redirectUri": appRedirect, "scope": bad})
		mustEqual(t, "status for a bad scope", status, 400)
		mustEqual(t, "code for a bad scope", jsonPath(body, "code"), "invalid_request_parameters")
	}
}

// TestV1OIDCSignIn signs in through the idplug binary's /v1 API with the oidc plugin,
// found by discovery, and checks that no token reached the log.
func TestV1OIDCSignIn(t *testing.T) {
	secret := oidctest.NewClientSecret(t)
	provider := oidctest.Start(t, oidctest.Config{Clients: []oidctest.Client{
		{ID: "oidc-client", Secret: secret, AuthMethod: "client_secret_basic", RedirectURIs: []string{appRedirect}},
	}})
	p := startIdplug(t, pluginFolder(t, "oidc"), jsonConfig(t, []map[string]any{{"id": "op", "plugin": "oidc", "config": map[string]any{
		"issuer": provider.Issuer, "clientId": "oidc-client", "clientSecret": secret, "tokenEndpointAuthMethod": "client_secret_basic",
		"scope": "openid profile email", "fetchUserInfo": true, "storeTokens": true,
	}}}))
	status, auth := p.call(t, "POST", "/v1/connectors/op/authorization-uri", "", map[string]any{"redirectUri": appRedirect})
	mustEqual(t, "authorization-uri status", status, 200)
	callback, err := provider.Authorize(context.Background(), jsonPath(auth, "redirectTo").(string), appRedirect)
	if err != nil {
		t.Fatal(err)
	}
	data := map[string]string{}
	for k, v := range callback.Query() {
		data[k] = v[0]
	}
	status, body := p.call(t, "POST", "/v1/connectors/op/user-info", "", map[string]any{"session": jsonPath(auth, "session"), "data": data})
	mustEqual(t, "user-info status", status, 200)
	mustEqual(t, "id", jsonPath(body, "userInfo", "id"), "alice")
	mustEqual(t, "email", jsonPath(body, "userInfo", "email"), "alice@example.com")
	idToken, _ := jsonPath(body, "tokens", "idToken").(string)
	if idToken == "" {
		t.Fatalf("no ID token in %v", body)
	}
	// A replayed callback: the finished flow is refused before it reaches the plugin.
	status, body = p.call(t, "POST", "/v1/connectors/op/user-info", "", map[string]any{"session": jsonPath(auth, "session"), "data": data})
	mustEqual(t, "replay status", status, 400)
	mustEqual(t, "replay code", jsonPath(body, "code"), "session_used")
	p.stop(t)
	for _, s := range []string{secret, idToken, data["code"]} {
		if strings.Contains(p.logs.String(), s) {
			t.Errorf("the log holds a secret %q...", s[:8])
		}
	}
}
