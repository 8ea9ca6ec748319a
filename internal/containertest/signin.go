package containertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/idplug/idplug/internal/oidctest"
)

// AppRedirect is the redirect URI the tests' app hands idplug's API.
const AppRedirect = "http://127.0.0.1:1/app/callback"

// Provider is the real OpenID provider (oidctest) with one confidential client.
type Provider struct {
	*oidctest.Provider
	ClientID, Secret string
}

// StartProvider starts the provider on loopback, stopped when the test ends.
func StartProvider(t testing.TB) *Provider {
	t.Helper()
	secret := oidctest.NewClientSecret(t)
	op := oidctest.Start(t, oidctest.Config{Clients: []oidctest.Client{{
		ID: "app", Secret: secret, AuthMethod: "client_secret_post", RedirectURIs: []string{AppRedirect},
	}}})
	return &Provider{Provider: op, ClientID: "app", Secret: secret}
}

// OAuth2Config is the configuration of an OAuth 2.0 connector (the bundled
// oauth2 plugin, or Logto's logto-oauth2) against the provider. secret is what
// the config says for the client secret: the secret itself or a ${file:...}.
func (p *Provider) OAuth2Config(secret string) map[string]any {
	return map[string]any{
		"authorizationEndpoint":     p.AuthorizationEndpoint(),
		"tokenEndpoint":             p.TokenEndpoint(),
		"userInfoEndpoint":          p.UserinfoEndpoint(),
		"clientId":                  p.ClientID,
		"clientSecret":              secret,
		"tokenEndpointAuthMethod":   "client_secret_post",
		"tokenEndpointResponseType": "json",
		"scope":                     "openid profile email",
		"profileMap":                map[string]any{"id": "sub", "name": "name", "email": "email"},
	}
}

// Flow is a sign-in started on an idplug and walked through the provider,
// ready to be finished with user-info on any replica.
type Flow struct {
	Connector string
	Body      map[string]any
}

// StartFlow asks base (an idplug's URL) for an authorization URL and signs the
// default account in at the provider.
func (p *Provider) StartFlow(t testing.TB, base, apiKey, connector string) Flow {
	t.Helper()
	status, auth := Call(t, "POST", base+"/v1/connectors/"+connector+"/authorization-uri", apiKey, map[string]any{"redirectUri": AppRedirect})
	if status != 200 {
		t.Fatalf("authorization-uri: %d %v", status, auth)
	}
	redirectTo, _ := auth["redirectTo"].(string)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cb, err := p.Authorize(ctx, redirectTo, AppRedirect)
	if err != nil {
		t.Fatalf("the provider's authorization: %v", err)
	}
	data := map[string]string{}
	for k, v := range cb.Query() {
		data[k] = v[0]
	}
	return Flow{Connector: connector, Body: map[string]any{"session": auth["session"], "data": data}}
}

// Finish sends the flow's callback to base's user-info and returns the answer.
func (f Flow) Finish(t testing.TB, base, apiKey string) (int, map[string]any) {
	t.Helper()
	return Call(t, "POST", base+"/v1/connectors/"+f.Connector+"/user-info", apiKey, f.Body)
}

// SignIn runs a whole sign-in through base and checks the profile is the
// provider's default account.
func (p *Provider) SignIn(t testing.TB, base, apiKey, connector string) {
	t.Helper()
	status, body := p.StartFlow(t, base, apiKey, connector).Finish(t, base, apiKey)
	want := oidctest.DefaultAccount()
	info, _ := body["userInfo"].(map[string]any)
	if status != 200 || info["id"] != want.Sub || info["email"] != want.Claims["email"] {
		t.Fatalf("sign-in through %s: %d %v", base, status, body)
	}
}

var apiClient = &http.Client{Timeout: 60 * time.Second}

// Call sends a JSON request with the API key and decodes the JSON answer.
func Call(t testing.TB, method, url, apiKey string, body any) (int, map[string]any) {
	t.Helper()
	status, answer, err := CallErr(method, url, apiKey, body)
	if err != nil {
		t.Fatal(err)
	}
	return status, answer
}

// CallErr is Call returning its error, for goroutines.
func CallErr(method, url, apiKey string, body any) (int, map[string]any, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+apiKey)
	}
	resp, err := apiClient.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	var answer map[string]any
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, nil, err
	}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &answer); err != nil {
			return resp.StatusCode, nil, fmt.Errorf("%s %s: %d, not JSON: %.200s", method, url, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode, answer, nil
}
