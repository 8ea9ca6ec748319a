package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idplug/idplug/host/hosttest"
	"github.com/idplug/idplug/sdk"
	"github.com/idplug/idplug/sdk/connectortest"
)

// profile is what the fake provider's userinfo endpoint answers. TODO: a real
// answer of the provider, copied from its documentation.
const profile = `{"sub":"user-1","name":"","preferred_username":"ada","picture":"https://acme-id.example.com/ada.png","email":"ada@example.com","email_verified":true}`

// kitOptions points a configuration at the test kit's fake provider.
func kitOptions(t *testing.T) connectortest.Options {
	// For a provider that takes one client authentication only, drop the
	// tokenEndpointAuthMethod form item and name the method here, with
	// connectortest.WithClientAuth(oauth2kit.ClientSecretPost).
	p := connectortest.NewProvider(t, connectortest.WithProfile(profile))
	return connectortest.Options{
		// The deadline checks wait for it: shorter than the 10 s default keeps
		// the tests quick, and still far above what a call takes.
		CallTimeout: 5 * time.Second,
		ValidConfig: map[string]any{
			"clientId":              p.ClientID(),
			"clientSecret":          p.ClientSecret(),
			"authorizationEndpoint": p.AuthorizationEndpoint(),
			"tokenEndpoint":         p.TokenEndpoint(),
			"userInfoEndpoint":      p.UserInfoEndpoint(),
			"storeTokens":           true,
		},
		Provider: p,
		// Every check runs: a skipped one fails, and says why.
		Strict: true,
		// The openid scope brings an ID token, which this connector never reads:
		// the profile comes from userinfo. A connector that verifies ID tokens
		// drops this, and gives NewProvider connectortest.WithIDTokens().
		Skip: map[string]string{"id-token": "the profile comes from userinfo; the ID token is not read"},
		WantUser: &sdk.UserInfo{
			ID:     "user-1",
			Name:   sdk.String("ada"), // name is empty: preferred_username stands in
			Avatar: sdk.String("https://acme-id.example.com/ada.png"),
			Email:  sdk.String("ada@example.com"),
		},
	}
}

// TestKit runs every check of the SDK's test kit on the connector.
func TestKit(t *testing.T) {
	connectortest.Run(t, connectortest.Value(connector{}), kitOptions(t))
}

// TestKitBinary builds the plugin and runs the same checks through the host.
func TestKitBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the plugin")
	}
	connectortest.Run(t, hosttest.Binary("."), kitOptions(t))
}

// TestSignIn is a sign-in by hand, asserting on what the provider was sent.
func TestSignIn(t *testing.T) {
	opts := kitOptions(t)
	p := opts.Provider
	c := connector{}
	cfg, err := c.ParseConfig(mustJSON(t, opts.ValidConfig))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	auth, err := c.AuthorizationURI(ctx, cfg, sdk.AuthorizationRequest{RedirectURI: "https://idplug.example/callback/acme-id", State: "state-1"})
	if err != nil {
		t.Fatal(err)
	}
	callback, err := p.Authorize(auth.RedirectTo)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.UserInfo(ctx, cfg, sdk.UserInfoRequest{Session: auth.Session, Callback: callback})
	if err != nil {
		t.Fatal(err)
	}
	if res.UserInfo.ID != "user-1" || res.Tokens == nil {
		t.Errorf("result = %+v", res)
	}
	authorize := p.RequestsTo(connectortest.AuthorizationEndpoint)[0]
	if got := authorize.Query.Get("scope"); got != defaultScope {
		t.Errorf("scope = %q, want %q", got, defaultScope)
	}
	token := p.RequestsTo(connectortest.TokenEndpoint)[0]
	if token.Form.Get("code_verifier") == "" || token.ClientAuth != connectortest.ClientSecretPost {
		t.Errorf("token request = %v, client authentication %q", token.Form, token.ClientAuth)
	}
}

// TestDefaultsReachable: a configuration that keeps the default URLs names no
// host, so the plugin reaches them only through the hosts its metadata declares
// (EgressHosts); under idplug's sandbox every other host is refused.
func TestDefaultsReachable(t *testing.T) {
	c := connector{}
	cfg, err := c.ParseConfig([]byte(`{"clientId":"id","clientSecret":"secret"}`))
	if err != nil {
		t.Fatal(err)
	}
	declared := c.Metadata().EgressHosts
	for _, raw := range []string{cfg.token.URL, cfg.userInfo.URL} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		host := u.Hostname() // port 443
		if u.Port() != "" && u.Port() != "443" {
			host = u.Host
		}
		if !slices.Contains(declared, host) {
			t.Errorf("the default %s is on %s, which the metadata's EgressHosts %q do not list", raw, host, declared)
		}
	}
}

// TestPlainHTTPRefused: the provider is sent the client secret, codes and
// tokens, which plain http would carry in the clear.
func TestPlainHTTPRefused(t *testing.T) {
	for _, key := range []string{"authorizationEndpoint", "tokenEndpoint", "userInfoEndpoint"} {
		raw := mustJSON(t, map[string]any{"clientId": "id", "clientSecret": "secret", key: "http://acme-id.example.com/x"})
		_, err := connector{}.ParseConfig(raw)
		var ce *sdk.ConfigError
		if !errors.As(err, &ce) || !strings.Contains(ce.Error(), key+": must be https") {
			t.Errorf("%s over plain http: %v; want a config error naming it", key, err)
		}
	}
}

func mustJSON(t *testing.T, v map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
