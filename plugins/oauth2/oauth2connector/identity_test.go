package oauth2connector

import "testing"

// The provider of an instance's tokens is its token endpoint and client id:
// what the scope, the profile mapping or the client's secret say is no part of
// it (tokens kept under them are the same grant's), and another endpoint or
// client is another provider.
func TestProviderIdentity(t *testing.T) {
	p := newStubProvider(t)
	base := connector{}.ProviderIdentity(mustParse(t, p.config(nil)))
	for name, overrides := range map[string]map[string]any{
		"another scope":       {"scope": "openid email"},
		"another secret":      {"clientSecret": testSecret + "-rotated"},
		"another profile map": {"profileMap": map[string]any{"id": "sub"}},
		"tokens kept":         {"storeTokens": true},
	} {
		if got := (connector{}).ProviderIdentity(mustParse(t, p.config(overrides))); got != base {
			t.Errorf("%s: %q, want %q", name, got, base)
		}
	}
	for name, overrides := range map[string]map[string]any{
		"another token endpoint": {"tokenEndpoint": p.URL() + "/other/token"},
		"another client":         {"clientId": "client-2"},
	} {
		if got := (connector{}).ProviderIdentity(mustParse(t, p.config(overrides))); got == base {
			t.Errorf("%s: the same provider %q", name, got)
		}
	}
}
