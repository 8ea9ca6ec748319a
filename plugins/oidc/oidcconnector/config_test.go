package oidcconnector

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/idplug/idplug/sdk"
	"github.com/idplug/idplug/sdk/oauth2kit"
)

func configProblems(t *testing.T, cfg map[string]any) map[string]string {
	t.Helper()
	raw, _ := json.Marshal(cfg)
	_, err := parseConfig(raw)
	out := map[string]string{}
	if err == nil {
		return out
	}
	ce, ok := err.(*sdk.ConfigError)
	if !ok {
		t.Fatalf("err = %T %v, want a *sdk.ConfigError", err, err)
	}
	for _, f := range ce.Fields {
		out[f.Field] = f.Message
	}
	return out
}

func TestConfigRefusals(t *testing.T) {
	base := func(extra map[string]any) map[string]any {
		cfg := map[string]any{"issuer": "https://id.example.com", "clientId": "c", "clientSecret": "s"}
		for k, v := range extra {
			cfg[k] = v
		}
		return cfg
	}
	microsoft := func(extra map[string]any) map[string]any {
		cfg := map[string]any{"provider": "microsoft", "clientId": "c", "clientSecret": "s"}
		for k, v := range extra {
			cfg[k] = v
		}
		return cfg
	}
	cases := []struct {
		name  string
		cfg   map[string]any
		field string
		says  string
	}{
		{"no clientId", map[string]any{"issuer": "https://id.example.com"}, "clientId", "required"},
		{"neither issuer nor endpoints", map[string]any{"clientId": "c", "clientSecret": "s"}, "authorizationEndpoint", "unless issuer"},
		{"Logto config without iss", map[string]any{"clientId": "c", "clientSecret": "s", "authorizationEndpoint": "https://a.example/auth", "tokenEndpoint": "https://a.example/token",
			"idTokenVerificationConfig": map[string]any{"jwksUri": "https://a.example/jwks"}}, "idTokenVerificationConfig.issuer", "3.1.3.7"},
		{"alg none", base(map[string]any{"idTokenVerificationConfig": map[string]any{"algorithms": []string{"none"}}}), "idTokenVerificationConfig.algorithms", "never"},
		{"HS256 without a secret", map[string]any{"issuer": "https://id.example.com", "clientId": "c", "tokenEndpointAuthMethod": "none",
			"idTokenVerificationConfig": map[string]any{"algorithms": []string{"HS256"}}}, "idTokenVerificationConfig.algorithms", "client secret"},
		{"unknown alg", base(map[string]any{"idTokenVerificationConfig": map[string]any{"algorithms": []string{"XS1"}}}), "idTokenVerificationConfig.algorithms", "unknown"},
		{"unknown nested key", base(map[string]any{"idTokenVerificationConfig": map[string]any{"jwksURI": "x"}}), "idTokenVerificationConfig.jwksURI", "unknown"},
		{"huge skew", base(map[string]any{"idTokenVerificationConfig": map[string]any{"clockTolerance": 3600}}), "idTokenVerificationConfig.clockTolerance", "at most"},
		{"audience without the client", base(map[string]any{"idTokenVerificationConfig": map[string]any{"audience": "other"}}), "idTokenVerificationConfig.audience", "clientId"},
		{"nonce in customConfig", base(map[string]any{"customConfig": map[string]any{"nonce": "fixed"}}), "customConfig.nonce", "protocol parameter"},
		{"implicit response mode", base(map[string]any{"authRequestOptionalConfig": map[string]any{"responseMode": "fragment"}}), "authRequestOptionalConfig.responseMode", "form_post"},
		{"issuer not a URL", base(map[string]any{"issuer": "id.example.com"}), "issuer", "absolute"},
		{"unknown provider", base(map[string]any{"provider": "myspace"}), "provider", "unknown provider"},
		{"tenant without microsoft", base(map[string]any{"tenant": "common"}), "tenant", "microsoft"},
		{"requireAcr without acrValues", base(map[string]any{"requireAcr": true}), "requireAcr", "authRequestOptionalConfig.acrValues"},
		{"allowedTenants without microsoft", base(map[string]any{"allowedTenants": []string{tenantMine}}), "allowedTenants", "microsoft"},
		{"allowedTenants for one tenant", microsoft(map[string]any{"tenant": "contoso.onmicrosoft.com", "allowedTenants": []string{tenantMine}}),
			"allowedTenants", "common or organizations"},
		{"allowedTenants for consumers", microsoft(map[string]any{"tenant": "consumers", "allowedTenants": []string{tenantMine}}),
			"allowedTenants", "its own accounts only"},
		{"allowedTenants empty", microsoft(map[string]any{"allowedTenants": []string{}}), "allowedTenants", "no one"},
		{"allowedTenants with a domain", microsoft(map[string]any{"tenant": "organizations", "allowedTenants": []string{tenantMine, "contoso.com"}}),
			"allowedTenants[1]", "not a tenant id"},
		{"apple without its key", map[string]any{"provider": "apple", "clientId": "com.example.web"}, "teamId", "required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := configProblems(t, tc.cfg)
			if msg, ok := got[tc.field]; !ok || !strings.Contains(msg, tc.says) {
				t.Errorf("problems = %v, want %s to say %q", got, tc.field, tc.says)
			}
		})
	}
}

// TestConfiguredEndpointsMustBeHTTPSOffLoopback: endpoints given one by one
// are held to what the issuer is: https, http only on a loopback address. The
// token endpoint gets the client secret and the code, and the JWK set says
// which tokens to believe; over http any network on the way reads or answers.
func TestConfiguredEndpointsMustBeHTTPSOffLoopback(t *testing.T) {
	static := func(scheme, host string) map[string]any {
		u := scheme + "://" + host
		return map[string]any{
			"clientId": "c", "clientSecret": "s",
			"authorizationEndpoint": u + "/authorize", "tokenEndpoint": u + "/token", "userInfoEndpoint": u + "/userinfo",
			"idTokenVerificationConfig": map[string]any{"jwksUri": u + "/jwks", "issuer": "https://id.example.com"},
		}
	}
	got := configProblems(t, static("http", "id.example.com"))
	for _, field := range []string{"authorizationEndpoint", "tokenEndpoint", "userInfoEndpoint", "idTokenVerificationConfig.jwksUri"} {
		if !strings.Contains(got[field], "must be https") {
			t.Errorf("problems = %v, want %s refused over http", got, field)
		}
	}
	// With discovery too: configured endpoints override the discovered ones.
	withIssuer := map[string]any{"issuer": "https://id.example.com", "clientId": "c", "clientSecret": "s", "tokenEndpoint": "http://id.example.com/token"}
	if got := configProblems(t, withIssuer); !strings.Contains(got["tokenEndpoint"], "must be https") {
		t.Errorf("problems = %v, want tokenEndpoint refused over http", got)
	}
	for _, host := range []string{"127.0.0.1:9000", "[::1]:9000", "localhost:9000"} {
		if got := configProblems(t, static("http", host)); len(got) > 0 {
			t.Errorf("http on %s: problems = %v, want none", host, got)
		}
	}
}

// A misspelt preset is the one problem named: the endpoints it would have
// filled in are not "required" besides.
func TestAnUnknownPresetIsTheOneProblem(t *testing.T) {
	got := configProblems(t, map[string]any{"provider": "microsft", "clientId": "c", "clientSecret": "s"})
	if len(got) != 1 || !strings.Contains(got["provider"], `unknown provider "microsft"`) {
		t.Errorf("problems = %v, want only the provider's", got)
	}
}

func TestScopeAlwaysHasOpenID(t *testing.T) {
	for in, want := range map[string]string{"": "openid", "profile email": "openid profile email", "openid+email": "openid email", "email openid": "email openid"} {
		if got := withOpenID(in); got != want {
			t.Errorf("withOpenID(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMetadata(t *testing.T) {
	m := metadata()
	if m.ID != "oidc" || m.Target != "oidc" || m.Platform != sdk.PlatformUniversal || !m.IsStandard {
		t.Errorf("metadata = %s %s %s standard=%v", m.ID, m.Target, m.Platform, m.IsStandard)
	}
	const prefix = "data:image/svg+xml;base64,"
	svg, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(m.Logo, prefix))
	if err != nil || !strings.HasPrefix(string(svg), "<svg") {
		t.Errorf("logo is not an inline SVG")
	}
	if _, err := parseConfig([]byte(m.ConfigTemplate)); err != nil {
		t.Errorf("the config template does not parse: %v", err)
	}
}

// TestEveryFieldIsInTheFormAndTheReadme keeps config, form items and README.md in step.
func TestEveryFieldIsInTheFormAndTheReadme(t *testing.T) {
	items := map[string]bool{}
	for _, f := range formItems() {
		if items[f.Key] {
			t.Errorf("form item %q appears twice", f.Key)
		}
		items[f.Key] = true
	}
	readme := metadata().Readme
	for _, name := range oauth2kit.ConfigKeys(config{}) {
		if !items[name] {
			t.Errorf("config field %q has no form item", name)
		}
		if !strings.Contains(readme, "`"+name+"`") {
			t.Errorf("config field %q is not in README.md", name)
		}
		delete(items, name)
	}
	for name := range items {
		t.Errorf("form item %q is no config field", name)
	}
}
