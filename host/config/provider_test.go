package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

var secret32 = strings.Repeat("s", 32)

// withProvider is a valid file with one connector instance (acme) and the
// provider section given, from line 7.
func withProvider(lines ...string) string {
	return withMinimal(append([]string{
		"connectors:",
		"  - {id: acme, plugin: oauth2}",
		"  - {id: other, plugin: oauth2}",
		"provider:",
	}, lines...)...)
}

func TestProviderDefaults(t *testing.T) {
	cfg := mustParse(t, withProvider(
		"  clients:",
		"    - id: app",
		"      secret: "+secret32,
		"      redirect_uris: [https://app.example/cb]",
	), nil)
	p := cfg.Provider
	if p == nil {
		t.Fatal("no provider")
	}
	if p.Issuer != "http://127.0.0.1:8080/oidc" || p.IssuerPath != "/oidc" {
		t.Errorf("issuer = %q (path %q), want {public_url}/oidc", p.Issuer, p.IssuerPath)
	}
	if p.AccessTokenTTL != DefaultAccessTokenTTL || p.RefreshTokenTTL != DefaultRefreshTokenTTL || p.SSOTTL != DefaultSSOTTL || p.GrantTTL != 0 {
		t.Errorf("ttls = %s %s %s %s", p.AccessTokenTTL, p.RefreshTokenTTL, p.SSOTTL, p.GrantTTL)
	}
	c := p.Clients[0]
	if c.ID != "app" || c.Public || c.AuthMethod != AuthSecretBasic || c.IDTokenAlg != "RS256" || !c.AllowsConnector("acme") || !c.AllowsConnector("other") {
		t.Errorf("client = %+v", c)
	}
	if strings.Contains(cfg.String(), secret32) || strings.Contains(c.String(), secret32) {
		t.Error("a client secret is printed")
	}
}

func TestProviderClients(t *testing.T) {
	cfg := mustParse(t, withProvider(
		"  issuer: http://127.0.0.1:8080/auth/oidc/",
		"  access_token_ttl: 5m",
		"  clients:",
		"    - id: spa",
		"      public: true",
		"      redirect_uris: [http://localhost:3000/callback, com.example.app:/cb]",
		"      post_logout_redirect_uris: [http://localhost:3000/]",
		"      connectors: [acme]",
		"    - id: backend",
		`      jwks: '{"keys": [{"kty": "EC", "crv": "P-256", "x": "a", "y": "b"}]}'`,
		"      token_endpoint_auth_method: private_key_jwt",
		"      id_token_signed_response_alg: ES256",
		"      redirect_uris: [https://backend.example/cb]",
	), nil)
	p := cfg.Provider
	if p.Issuer != "http://127.0.0.1:8080/auth/oidc" || p.IssuerPath != "/auth/oidc" || p.AccessTokenTTL != 5*time.Minute {
		t.Errorf("provider = %+v", p)
	}
	spa, backend := p.Clients[0], p.Clients[1]
	if !spa.Public || spa.AuthMethod != AuthNone || spa.AllowsConnector("other") || !spa.AllowsConnector("acme") ||
		!slices.Equal(spa.RedirectURIs, []string{"http://localhost:3000/callback", "com.example.app:/cb"}) {
		t.Errorf("spa = %+v", spa)
	}
	if backend.AuthMethod != AuthPrivateKeyJWT || backend.IDTokenAlg != "ES256" || len(backend.JWKS) == 0 || backend.Secret != "" {
		t.Errorf("backend = %+v", backend)
	}
}

func TestProviderProblems(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  []string
	}{
		{"no clients", []string{"  issuer: http://127.0.0.1:8080/oidc"},
			[]string{"7 provider.clients: is required: at least one client"}},
		{"unknown keys", []string{"  clients:", "    - id: app", "      secret: " + secret32, "      redirect_uris: [https://a.example/cb]", "      redirect_uri: [x]", "  issuerr: x"},
			[]string{"11 provider.clients[0].redirect_uri: unknown key; did you mean redirect_uris?", "12 provider.issuerr: unknown key; did you mean issuer?"}},
		{"issuer outside public_url", []string{"  issuer: https://evil.example/oidc", "  clients: [{id: a, public: true, redirect_uris: [https://a.example/cb]}]"},
			[]string{`7 provider.issuer: "https://evil.example/oidc" must be a path under public_url (http://127.0.0.1:8080), like http://127.0.0.1:8080/oidc`}},
		{"issuer that climbs out", []string{"  issuer: http://127.0.0.1:8080/a/../oidc", "  clients: [{id: a, public: true, redirect_uris: [https://a.example/cb]}]"},
			[]string{`7 provider.issuer: "http://127.0.0.1:8080/a/../oidc" must be a clean path under public_url`}},
		{"issuer over idplug's own routes", []string{"  issuer: http://127.0.0.1:8080/v1/oidc", "  clients: [{id: a, public: true, redirect_uris: [https://a.example/cb]}]"},
			[]string{`7 provider.issuer: "http://127.0.0.1:8080/v1/oidc" would hide idplug's own /v1 routes; choose another path, like http://127.0.0.1:8080/oidc`}},
		{"grant_ttl under a minute", []string{"  grant_ttl: 30s", "  clients: [{id: a, public: true, redirect_uris: [https://a.example/cb]}]"},
			[]string{`7 provider.grant_ttl: "30s" is less than the minimum of 1m`}},
		{"issuer with a query", []string{"  issuer: http://127.0.0.1:8080/oidc?x=1", "  clients: [{id: a, public: true, redirect_uris: [https://a.example/cb]}]"},
			[]string{`7 provider.issuer: "http://127.0.0.1:8080/oidc?x=1" must be a URL without a query or fragment`}},
		{"confidential client without a secret", []string{"  clients: [{id: app, redirect_uris: [https://a.example/cb]}]"},
			[]string{"7 provider.clients[0].secret: is required: 32 bytes or more for a confidential client (openssl rand -base64 32 makes one), or set public: true"}},
		{"short secret, never echoed", []string{"  clients: [{id: app, secret: short-secret, redirect_uris: [https://a.example/cb]}]"},
			[]string{"7 provider.clients[0].secret: is required: 32 bytes or more for a confidential client (openssl rand -base64 32 makes one), or set public: true"}},
		{"public client with a secret", []string{"  clients: [{id: app, public: true, secret: " + secret32 + ", redirect_uris: [https://a.example/cb]}]"},
			[]string{"7 provider.clients[0].secret: a public client has no secret: anyone can read it out of the app"}},
		{"public client with another method", []string{"  clients: [{id: app, public: true, token_endpoint_auth_method: client_secret_post, redirect_uris: [https://a.example/cb]}]"},
			[]string{`7 provider.clients[0].token_endpoint_auth_method: a public client authenticates with none (and PKCE), not "client_secret_post"`}},
		{"confidential client with none", []string{"  clients: [{id: app, token_endpoint_auth_method: none, secret: " + secret32 + ", redirect_uris: [https://a.example/cb]}]"},
			[]string{`7 provider.clients[0].token_endpoint_auth_method: "none" must be one of client_secret_basic, client_secret_post, private_key_jwt (none is for public: true)`}},
		{"private_key_jwt without keys", []string{"  clients: [{id: app, token_endpoint_auth_method: private_key_jwt, redirect_uris: [https://a.example/cb]}]"},
			[]string{`7 provider.clients[0].jwks: is required for private_key_jwt: the client's public keys, like '{"keys": [...]}' or ${file:client.jwks}`}},
		{"a shared secret for private_key_jwt", []string{`  clients: [{id: app, token_endpoint_auth_method: private_key_jwt, jwks: '{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}', redirect_uris: [https://a.example/cb]}]`},
			[]string{`7 provider.clients[0].jwks: keys[0]: private_key_jwt needs the client's public keys (kty RSA or EC), not kty "oct"`}},
		{"the client's private key", []string{`  clients: [{id: app, token_endpoint_auth_method: private_key_jwt, jwks: '{"keys": [{"kty": "EC", "crv": "P-256", "x": "a", "y": "b", "d": "c2VjcmV0LXNjYWxhcg"}]}', redirect_uris: [https://a.example/cb]}]`},
			[]string{`7 provider.clients[0].jwks: keys[0] holds a private key: give the client's public key only (the private one stays with the client)`}},
		{"keys that are not a key set", []string{"  clients: [{id: app, token_endpoint_auth_method: private_key_jwt, jwks: '{}', redirect_uris: [https://a.example/cb]}]"},
			[]string{`7 provider.clients[0].jwks: must be a JSON key set with at least one key, like {"keys": [{"kty": "EC", ...}]}`}},
		{"duplicate ids", []string{"  clients:", "    - {id: app, public: true, redirect_uris: [https://a.example/cb]}", "    - {id: app, public: true, redirect_uris: [https://a.example/cb]}"},
			[]string{`9 provider.clients[1].id: "app" is already the id of clients[0]`}},
		{"bad id", []string{"  clients: [{id: -app, public: true, redirect_uris: [https://a.example/cb]}]"},
			[]string{`7 provider.clients[0].id: "-app" must be 1 to 128 letters, digits and . _ ~ - (not starting with a symbol)`}},
		{"unknown connector", []string{"  clients: [{id: app, public: true, connectors: [acme, nope], redirect_uris: [https://a.example/cb]}]"},
			[]string{`7 provider.clients[0].connectors[1]: "nope" is no connector instance of this file`}},
		{"no redirect URIs", []string{"  clients: [{id: app, public: true}]"},
			[]string{"7 provider.clients[0].redirect_uris: is required: the exact URLs the app receives codes at"}},
		{"hostile redirect URIs", []string{"  clients:", "    - id: app", "      public: true", "      redirect_uris:",
			"        - javascript:alert(1)", "        - http://evil.example/cb", "        - https://a.example/cb#frag", "        - /relative", "        - https://user:pw@a.example/cb", "        - myapp:/cb",
			"        - https://*.example.com/cb", "        - https://a.example:99999/cb", `        - " https://a.example/cb"`},
			[]string{
				`11 provider.clients[0].redirect_uris[0]: "javascript:alert(1)": the javascript scheme is never a redirect URI`,
				`12 provider.clients[0].redirect_uris[1]: "http://evil.example/cb" must be https (http only on a loopback address)`,
				`13 provider.clients[0].redirect_uris[2]: "https://a.example/cb#frag" must not have a fragment`,
				`14 provider.clients[0].redirect_uris[3]: "/relative" must be an absolute URL`,
				`15 provider.clients[0].redirect_uris[4]: "https://xxxxx@a.example/cb" must not contain a user name or password`,
				`16 provider.clients[0].redirect_uris[5]: "myapp:/cb" must be https; only a public (native) client may use a private-use scheme, and it must be a reversed domain name like com.example.app:/callback`,
				`17 provider.clients[0].redirect_uris[6]: "https://*.example.com/cb": a redirect URI is matched exactly; wildcards are not supported, list each URL`,
				`18 provider.clients[0].redirect_uris[7]: "https://a.example:99999/cb" has port 99999, not one from 1 to 65535`,
				`19 provider.clients[0].redirect_uris[8]: " https://a.example/cb" has spaces around it`,
			}},
		{"a confidential client's private-use scheme", []string{"  clients: [{id: app, secret: " + secret32 + ", redirect_uris: [com.example.app:/cb]}]"},
			[]string{`7 provider.clients[0].redirect_uris[0]: "com.example.app:/cb" must be https; only a public (native) client may use a private-use scheme, and it must be a reversed domain name like com.example.app:/callback`}},
		{"bad alg", []string{"  clients: [{id: app, public: true, id_token_signed_response_alg: none, redirect_uris: [https://a.example/cb]}]"},
			[]string{`7 provider.clients[0].id_token_signed_response_alg: "none" must be one of RS256, ES256`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := problemsOf(t, withProvider(tc.lines...), nil)
			if !slices.Equal(got, tc.want) {
				t.Errorf("problems:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(tc.want, "\n     "))
			}
			for _, p := range got {
				if strings.Contains(p, secret32) || strings.Contains(p, "short-secret") {
					t.Errorf("a problem echoes a secret: %s", p)
				}
			}
		})
	}
}

func TestProviderNeedsAStore(t *testing.T) {
	got := problemsOf(t, withMinimal("store: {url: off}", "provider:", "  clients: [{id: a, public: true, redirect_uris: [https://a.example/cb]}]"), nil)
	want := []string{"5 provider: needs a store (codes are single-use and refresh tokens rotate across replicas): remove store: {url: off}"}
	if !slices.Equal(got, want) {
		t.Errorf("problems = %q, want %q", got, want)
	}
}

// The provider verifies client assertions signed with RS256 or ES256 only (as
// its discovery says): a key for anything else would fail every assertion, so
// the file is refused, naming the client's jwks, rather than taken.
func TestProviderRefusesKeysNoAssertionVerifies(t *testing.T) {
	client := func(key string) string {
		return `  clients: [{id: app, token_endpoint_auth_method: private_key_jwt, jwks: '{"keys": [` + key + `]}', redirect_uris: [https://a.example/cb]}]`
	}
	for name, tc := range map[string]struct{ key, want string }{
		"an Ed25519 key": {`{"kty": "OKP", "crv": "Ed25519", "x": "a", "alg": "EdDSA"}`,
			`7 provider.clients[0].jwks: keys[0]: kty OKP (EdDSA) is not supported: the client signs its assertions with RS256 (kty RSA) or ES256 (kty EC, crv P-256)`},
		"a P-384 key": {`{"kty": "EC", "crv": "P-384", "x": "a", "y": "b"}`,
			`7 provider.clients[0].jwks: keys[0]: crv "P-384" is not supported: the client signs its assertions with ES256 (crv P-256)`},
		"an RSA key for PS256": {`{"kty": "RSA", "n": "a", "e": "AQAB", "alg": "PS256"}`,
			`7 provider.clients[0].jwks: keys[0]: alg "PS256" is not supported for kty RSA: the client signs its assertions with RS256 (kty RSA) or ES256 (kty EC)`},
		"an EC key marked RS256": {`{"kty": "EC", "crv": "P-256", "x": "a", "y": "b", "alg": "RS256"}`,
			`7 provider.clients[0].jwks: keys[0]: alg "RS256" is not supported for kty EC: the client signs its assertions with RS256 (kty RSA) or ES256 (kty EC)`},
	} {
		got := problemsOf(t, withProvider(client(tc.key)), nil)
		if !slices.Equal(got, []string{tc.want}) {
			t.Errorf("%s: problems\n got %q\nwant %q", name, got, tc.want)
		}
	}
	// The keys assertions are verified with still pass.
	for _, key := range []string{`{"kty": "RSA", "n": "a", "e": "AQAB", "alg": "RS256"}`, `{"kty": "EC", "crv": "P-256", "x": "a", "y": "b"}`} {
		mustParse(t, withProvider(client(key)), nil)
	}
}

// An OpenID Provider at a plain-http public_url off loopback had been taken:
// its session, flow and browser-mark cookies then carry no __Host- prefix
// and no Secure flag, so a sibling host could plant them (login CSRF, the
// browser binding of a pending request undone), and anyone on the way reads
// them, the codes and the tokens.
func TestProviderOffLoopbackNeedsHTTPS(t *testing.T) {
	clients := []string{"  clients:", "    - id: app", "      secret: " + secret32, "      redirect_uris: [https://app.example/cb]"}
	for _, tc := range []struct{ public, want string }{
		{"http://idp.example.com", `provider.issuer: "http://idp.example.com/oidc" must be https (http only on a loopback address)`},
		{"http://10.0.0.5:8080", `provider.issuer: "http://10.0.0.5:8080/oidc" must be https (http only on a loopback address)`},
		{"https://idp.example.com", ""},
		{"http://localhost:8080", ""},
		{"http://[::1]:8080", ""},
	} {
		data := withProvider(clients...) + "public_url: " + tc.public + "\nlisten: 0.0.0.0:8080\napi_keys: [\"" + apiKeyA + "\"]\n"
		cfg, err := Parse([]byte(data), envOf(nil), "/etc/idplug")
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.public, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v (provider %+v); want %q", tc.public, err, cfg, tc.want)
		}
	}
}

func TestProviderGrantTTL(t *testing.T) {
	cfg := mustParse(t, withProvider("  grant_ttl: 2160h", "  clients: [{id: a, public: true, redirect_uris: [https://a.example/cb]}]"), nil)
	if cfg.Provider.GrantTTL != 90*24*time.Hour {
		t.Errorf("grant_ttl = %s, want 2160h", cfg.Provider.GrantTTL)
	}
}
