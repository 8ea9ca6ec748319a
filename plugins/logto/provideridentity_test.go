package main

import (
	"strings"
	"testing"
)

// Logto's connectors named no provider, so everything the host ties to one
// (browser sessions, the OpenID Provider's grants, flows under way, vault
// records) was tied to the plugin's id alone: a reload pointing an instance at
// another client or token endpoint left them all serving, and the vault sent
// the first provider's refresh token to the second. They now name the
// provider account from the configuration.
func TestLogtoConnectorsNameTheirProvider(t *testing.T) {
	o := startOAuthStub(t, nil, 0)
	first, err := o.h.TokensProvider("acme")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(first, "clientId=oauth-client") || !strings.Contains(first, "tokenEndpoint=http") || strings.Contains(first, oauthStubSecret) {
		t.Fatalf("the provider named: %q; want the client id and the token endpoint, never the secret", first)
	}

	// What names it, configuration by configuration (the connector's own
	// guard is Node's; ProviderIdentity reads the checked JSON).
	id := func(cfg string) string { return (&connector{}).ProviderIdentity(&instance{raw: []byte(cfg)}) }
	base := id(`{"tokenEndpoint":"https://idp.test/token","clientId":"c","clientSecret":"s1","scope":"a"}`)
	for cfg, same := range map[string]bool{
		`{"tokenEndpoint":"https://idp.test/token","clientId":"c","clientSecret":"s2","scope":"b"}`:     true,
		`{"tokenEndpoint":"https://idp.test/token","clientId":"other","clientSecret":"s1","scope":"a"}`: false,
		`{"tokenEndpoint":"https://elsewhere.test/token","clientId":"c","clientSecret":"s1"}`:           false,
	} {
		if (id(cfg) == base) != same {
			t.Errorf("%s names %q, against %q; want the same provider: %v", cfg, id(cfg), base, same)
		}
	}
	if a, b := id(`{"clientId":"c","tenantId":"t1"}`), id(`{"clientId":"c","tenantId":"t2"}`); a == b {
		t.Errorf("Azure AD tenants t1 and t2 name one provider: %q", a)
	}
	if p := id(`{"clientId":"` + strings.Repeat("x", 2000) + `"}`); len(p) > 100 || !strings.HasPrefix(p, "sha256=") {
		t.Errorf("a client id of 2000 bytes names %q", p)
	}
}
