package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"

	"github.com/idplug/idplug/internal/oidctest"
)

// TestMappingThroughTheBinary signs in through the idplug binary, with the
// oidc plugin against the real OpenID provider, on connectors with a mapping:
// the mapped profile and the claims come back from /v1 user-info, show on the
// browser's /user, the dry-run route agrees, and an allow rule that says no
// refuses the sign-in with its reason.
func TestMappingThroughTheBinary(t *testing.T) {
	secret := oidctest.NewClientSecret(t)
	const publicURL = "http://127.0.0.1:1"
	provider := oidctest.Start(t, oidctest.Config{Clients: []oidctest.Client{{
		ID: "map-client", Secret: secret, AuthMethod: "client_secret_basic",
		RedirectURIs: []string{appRedirect, publicURL + "/callback/mapped"},
	}}})
	oidcConfig := map[string]any{
		"issuer": provider.Issuer, "clientId": "map-client", "clientSecret": secret,
		"tokenEndpointAuthMethod": "client_secret_basic", "scope": "openid profile email", "fetchUserInfo": true,
	}
	p := startIdplug(t, pluginFolder(t, "oidc"), jsonConfig(t, []map[string]any{
		{"id": "mapped", "plugin": "oidc", "config": oidcConfig, "mapping": map[string]any{
			"name":   `raw.given_name + " (" + profile.id + ")"`,
			"avatar": `null`,
			"claims": map[string]any{"domain": `profile.email.endsWith("@example.com") ? "example.com" : "elsewhere"`, "family": `raw.family_name`},
			"allow":  `raw.email_verified == true`,
		}},
		{"id": "strict", "plugin": "oidc", "target": "strict", "config": oidcConfig, "mapping": map[string]any{
			"allow": `profile.email.endsWith("@acme.test")`, "allow_reason": "acme.test accounts only",
		}},
	}))

	signIn := func(t *testing.T, id string) (int, map[string]any) {
		status, auth := p.call(t, "POST", "/v1/connectors/"+id+"/authorization-uri", "", map[string]any{"redirectUri": appRedirect})
		mustEqual(t, "authorization-uri status", status, 200)
		callback, err := provider.Authorize(context.Background(), jsonPath(auth, "redirectTo").(string), appRedirect)
		if err != nil {
			t.Fatal(err)
		}
		data := map[string]string{}
		for k, v := range callback.Query() {
			data[k] = v[0]
		}
		return p.call(t, "POST", "/v1/connectors/"+id+"/user-info", "", map[string]any{"session": jsonPath(auth, "session"), "data": data})
	}

	t.Run("v1", func(t *testing.T) {
		status, body := signIn(t, "mapped")
		mustEqual(t, "status", status, 200)
		mustEqual(t, "name", jsonPath(body, "userInfo", "name"), "Alice (alice)")
		mustEqual(t, "email kept", jsonPath(body, "userInfo", "email"), "alice@example.com")
		mustEqual(t, "avatar unset", jsonPath(body, "userInfo", "avatar"), nil)
		mustEqual(t, "claims", jsonPath(body, "claims"), map[string]any{"domain": "example.com", "family": "Example"})
	})

	t.Run("refused", func(t *testing.T) {
		status, body := signIn(t, "strict")
		mustEqual(t, "status", status, 401)
		mustEqual(t, "code", jsonPath(body, "code"), "authorization_failed")
		mustEqual(t, "message", jsonPath(body, "message"), "acme.test accounts only")
	})

	t.Run("browser", func(t *testing.T) {
		jar, _ := cookiejar.New(nil)
		client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Get(p.URL + "/sign-in/mapped")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		callback, err := provider.Authorize(context.Background(), resp.Header.Get("Location"), publicURL+"/callback/mapped")
		if err != nil {
			t.Fatal(err)
		}
		// The browser comes back to idplug itself (public_url's port is a placeholder).
		resp, err = client.Get(p.URL + callback.Path + "?" + callback.RawQuery)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		mustEqual(t, "callback status", resp.StatusCode, 302)
		resp, err = client.Get(p.URL + "/user")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var user map[string]any
		if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&user); err != nil {
			t.Fatal(err)
		}
		mustEqual(t, "signed in", jsonPath(user, "isAuthenticated"), true)
		mustEqual(t, "name", jsonPath(user, "userInfo", "name"), "Alice (alice)")
		mustEqual(t, "claims.name", jsonPath(user, "claims", "name"), "Alice (alice)")
		mustEqual(t, "claims.domain", jsonPath(user, "claims", "domain"), "example.com")
	})

	t.Run("dry run route", func(t *testing.T) {
		sample := map[string]any{"profile": map[string]any{"id": "bob", "email": "bob@acme.test"},
			"raw": map[string]any{"given_name": "Bob", "family_name": "Builder", "email_verified": true}}
		status, body := p.call(t, "POST", "/v1/connectors/mapped/mapping/test", "", sample)
		mustEqual(t, "status", status, 200)
		mustEqual(t, "name", jsonPath(body, "userInfo", "name"), "Bob (bob)")
		mustEqual(t, "claims", jsonPath(body, "claims"), map[string]any{"domain": "elsewhere", "family": "Builder"})
		mustEqual(t, "no raw data back", jsonPath(body, "userInfo", "rawData"), nil)

		// A provider's raw data naming a field twice is read as at sign-in and by
		// `idplug map`: the last value counts (other /v1 bodies refuse it).
		status, body = p.call(t, "POST", "/v1/connectors/mapped/mapping/test", "",
			[]byte(`{"profile":{"id":"bob","email":"bob@acme.test"},"raw":{"given_name":"Robert","given_name":"Bob","family_name":"Builder","email_verified":true}}`))
		mustEqual(t, "raw with a name twice", status, 200)
		mustEqual(t, "the last value counts", jsonPath(body, "userInfo", "name"), "Bob (bob)")

		status, body = p.call(t, "POST", "/v1/connectors/strict/mapping/test", "", map[string]any{"profile": map[string]any{"id": "eve", "email": "eve@evil.test"}})
		mustEqual(t, "refusal status", status, 401)
		mustEqual(t, "refusal", jsonPath(body, "message"), "acme.test accounts only")

		status, body = p.call(t, "POST", "/v1/connectors/mapped/mapping/test", "", map[string]any{"profile": map[string]any{"id": "x"}, "raw": map[string]any{}})
		mustEqual(t, "failure status", status, 500)
		mustEqual(t, "failure code", jsonPath(body, "code"), "mapping_failed")

		status, body = p.call(t, "POST", "/v1/connectors/mapped/mapping/test", "", map[string]any{"profil": map[string]any{"id": "x"}})
		mustEqual(t, "bad sample", status, 400)
		if !strings.Contains(jsonPath(body, "message").(string), "profil") {
			t.Fatalf("message = %v", body)
		}
		status, _ = p.call(t, "POST", "/v1/connectors/nope/mapping/test", "", map[string]any{"profile": map[string]any{"id": "x"}})
		mustEqual(t, "unknown connector", status, 404)
	})
}
