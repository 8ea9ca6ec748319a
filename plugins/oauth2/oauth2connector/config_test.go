package oauth2connector

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idplug/idplug/sdk"
	"github.com/idplug/idplug/sdk/oauth2kit"
)

// A configuration made in Logto's console for its OAuth standard connector, as
// stored: the form's defaults included.
const logtoConfig = `{
  "authorizationEndpoint": "https://github.com/login/oauth/authorize",
  "tokenEndpoint": "https://github.com/login/oauth/access_token",
  "userInfoEndpoint": "https://api.github.com/user",
  "clientId": "Iv1.0123456789abcdef",
  "clientSecret": "0123456789abcdef0123456789abcdef01234567",
  "tokenEndpointAuthMethod": "client_secret_post",
  "clientSecretJwtSigningAlgorithm": "HS256",
  "tokenEndpointResponseType": "query-string",
  "responseType": "code",
  "grantType": "authorization_code",
  "scope": "read:user user:email",
  "profileMap": {"id": "id", "name": "name", "avatar": "avatar_url", "email": "email", "phone": "phone"},
  "customConfig": {"allow_signup": "false"}
}`

func TestALogtoConfigurationWorksUnchanged(t *testing.T) {
	in, err := parseConfig([]byte(logtoConfig))
	if err != nil {
		t.Fatal(err)
	}
	if in.token.Auth.Method != oauth2kit.ClientSecretPost || in.token.Format != oauth2kit.FormatForm {
		t.Errorf("auth %s format %q", in.token.Auth.Method, in.token.Format)
	}
	if in.profileMap.Avatar != "avatar_url" || in.customConfig["allow_signup"] != "false" || in.scope != "read:user user:email" {
		t.Errorf("instance = %+v", in)
	}
}

func TestDefaults(t *testing.T) {
	in, err := parseConfig([]byte(`{
		"authorizationEndpoint": "https://id.example.com/a", "tokenEndpoint": "https://id.example.com/t",
		"userInfoEndpoint": "https://id.example.com/u", "clientId": "c", "clientSecret": "s"}`))
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case in.token.Auth.Method != oauth2kit.ClientSecretPost:
		t.Errorf("auth method = %s, want Logto's default client_secret_post", in.token.Auth.Method)
	case in.token.Format != oauth2kit.FormatAuto:
		t.Errorf("format = %q, want by Content-Type", in.token.Format)
	case !in.pkce:
		t.Error("PKCE is off by default")
	case in.profileMap != oauth2kit.DefaultProfileMap():
		t.Errorf("profile map = %+v", in.profileMap)
	case in.userInfo.Method != http.MethodGet:
		t.Errorf("userinfo method = %s", in.userInfo.Method)
	case in.token.HTTP.Timeout() != 8*time.Second:
		t.Errorf("timeout = %s", in.token.HTTP.Timeout())
	case len(in.customConfig) != 0 || in.storeTokens || in.issuer != "":
		t.Errorf("instance = %+v", in)
	}
}

func TestSecretIsIgnoredWhereItDoesNotApply(t *testing.T) {
	base := `"authorizationEndpoint": "https://id.example.com/a", "tokenEndpoint": "https://id.example.com/t",
		"userInfoEndpoint": "https://id.example.com/u", "clientId": "c"`
	for _, extra := range []string{
		`"tokenEndpointAuthMethod": "none"`,
		`"tokenEndpointAuthMethod": "none", "clientSecret": "left over", "clientSecretJwtSigningAlgorithm": "HS256"`,
		`"tokenEndpointAuthMethod": "private_key_jwt", "clientSecret": "left over", "privateKey": ` + jsonString(rsaPEM(t)),
	} {
		if _, err := parseConfig([]byte("{" + base + "," + extra + "}")); err != nil {
			t.Errorf("%s: %v", extra, err)
		}
	}
}

func TestPrivateKeyConfiguration(t *testing.T) {
	for _, tc := range []struct {
		pem, alg, want string
	}{
		{rsaPEM(t), "", "RS256"},
		{rsaPEM(t), "RS256", "RS256"},
		{ecPEM(t), "", "ES256"},
	} {
		in := mustParse(t, map[string]any{
			"authorizationEndpoint": "https://id.example.com/a", "tokenEndpoint": "https://id.example.com/t",
			"userInfoEndpoint": "https://id.example.com/u", "clientId": "c",
			"tokenEndpointAuthMethod": "private_key_jwt", "privateKey": tc.pem, "privateKeyId": "k1", "privateKeySigningAlgorithm": tc.alg,
		})
		if in.token.Auth.SigningAlgorithm != tc.want || in.token.Auth.KeyID != "k1" || in.token.Auth.PrivateKey == nil {
			t.Errorf("auth = %+v, want %s", in.token.Auth, tc.want)
		}
	}
}

// TestEveryProblemIsReportedAtOnce gives a configuration where every field is wrong
// and checks each is named, with a reason.
func TestEveryProblemIsReportedAtOnce(t *testing.T) {
	raw := `{
		"authorizationEndpoint": "/relative",
		"tokenEndpoint": "ftp://id.example.com/t",
		"userInfoEndpoint": "https://id.example.com/u#frag",
		"clientId": "",
		"tokenEndpointAuthMethod": "client_secret_jwt",
		"clientSecret": "too short",
		"clientSecretJwtSigningAlgorithm": "HS384",
		"tokenEndpointResponseType": "xml",
		"responseType": "token",
		"grantType": "implicit",
		"scope": 42,
		"customConfig": {"state": "x", "redirect_uri": "y", "n": 1},
		"profileMap": {"id": "a..b", "nickname": "nick", "email": 7},
		"pkce": "plain",
		"issuer": "not a url",
		"userInfoMethod": "PUT",
		"requestTimeout": "30s",
		"caCertificates": "not pem",
		"userAgent": "bad\nagent",
		"storeTokens": "yes",
		"clientID": "typo"
	}`
	_, err := parseConfig([]byte(raw))
	var ce *sdk.ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("error = %v, want a *sdk.ConfigError", err)
	}
	want := map[string]string{
		"authorizationEndpoint":           "absolute http or https URL",
		"tokenEndpoint":                   "absolute http or https URL",
		"userInfoEndpoint":                "fragment",
		"clientId":                        "is required",
		"clientSecret":                    "HS384 needs a secret of at least 48 bytes",
		"tokenEndpointResponseType":       `"json" or "query-string"`,
		"responseType":                    `must be "code"`,
		"grantType":                       `must be "authorization_code"`,
		"scope":                           "must be a string",
		"customConfig.state":              "protocol parameter",
		"customConfig.redirect_uri":       "protocol parameter",
		"customConfig.n":                  "must be a string",
		"profileMap.id":                   "empty segment",
		"profileMap.nickname":             "unknown profile field",
		"profileMap.email":                "must be a string",
		"pkce":                            `"S256" or "none"`,
		"issuer":                          "absolute http or https URL",
		"userInfoMethod":                  `"GET" or "POST"`,
		"requestTimeout":                  "at most 9s",
		"caCertificates":                  "no PEM CERTIFICATE block",
		"userAgent":                       "control characters",
		"storeTokens":                     "true or false",
		"clientID":                        "did you mean clientId?",
		"clientSecretJwtSigningAlgorithm": "", // valid here: must not be reported
	}
	got := map[string]string{}
	for _, f := range ce.Fields {
		got[f.Field] = f.Message
	}
	for field, says := range want {
		msg, reported := got[field]
		switch {
		case says == "" && reported:
			t.Errorf("%s reported: %s", field, msg)
		case says != "" && !reported:
			t.Errorf("%s not reported (got %v)", field, ce.Fields)
		case says != "" && !strings.Contains(msg, says):
			t.Errorf("%s: %q does not say %q", field, msg, says)
		}
	}
	if len(ce.Fields) != len(want)-1 {
		t.Errorf("%d problems reported, want %d: %v", len(ce.Fields), len(want)-1, ce.Fields)
	}
}

func TestAuthMethodProblems(t *testing.T) {
	tests := []struct {
		name   string
		fields map[string]any
		field  string
		says   string
	}{
		{"unknown method", map[string]any{"tokenEndpointAuthMethod": "tls_client_auth"}, "tokenEndpointAuthMethod", "client_secret_post, client_secret_basic, client_secret_jwt, private_key_jwt, none"},
		{"basic without secret", map[string]any{"tokenEndpointAuthMethod": "client_secret_basic", "clientSecret": nil}, "clientSecret", "required for client_secret_basic"},
		{"post without secret", map[string]any{"clientSecret": ""}, "clientSecret", "required for client_secret_post"},
		{"jwt without secret", map[string]any{"tokenEndpointAuthMethod": "client_secret_jwt", "clientSecret": nil}, "clientSecret", "required"},
		{"unknown HMAC", map[string]any{"tokenEndpointAuthMethod": "client_secret_jwt", "clientSecretJwtSigningAlgorithm": "RS256"}, "clientSecretJwtSigningAlgorithm", "HS256, HS384 or HS512"},
		{"HMAC with private_key_jwt", map[string]any{"tokenEndpointAuthMethod": "private_key_jwt", "clientSecretJwtSigningAlgorithm": "HS256", "privateKey": "x"}, "clientSecretJwtSigningAlgorithm", "private_key_jwt"},
		{"no private key", map[string]any{"tokenEndpointAuthMethod": "private_key_jwt"}, "privateKey", "required for private_key_jwt"},
		{"bad PEM", map[string]any{"tokenEndpointAuthMethod": "private_key_jwt", "privateKey": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}, "privateKey", "not a private key"},
		{"key mismatch", map[string]any{"tokenEndpointAuthMethod": "private_key_jwt", "privateKey": ecPEM(t), "privateKeySigningAlgorithm": "RS256"}, "privateKeySigningAlgorithm", "EC P-256 key"},
		{"unsupported key algorithm", map[string]any{"tokenEndpointAuthMethod": "private_key_jwt", "privateKey": rsaPEM(t), "privateKeySigningAlgorithm": "PS256"}, "privateKeySigningAlgorithm", "not supported"},
		{"empty customConfig key", map[string]any{"customConfig": map[string]any{"": "x"}}, "customConfig", "empty key"},
		{"empty id path", map[string]any{"profileMap": map[string]any{"id": ""}}, "profileMap.id", "empty"},
		{"customConfig not an object", map[string]any{"customConfig": "a=b"}, "customConfig", "JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := map[string]any{
				"authorizationEndpoint": "https://id.example.com/a", "tokenEndpoint": "https://id.example.com/t",
				"userInfoEndpoint": "https://id.example.com/u", "clientId": "c", "clientSecret": testSecret,
			}
			for k, v := range tt.fields {
				if v == nil {
					delete(cfg, k)
				} else {
					cfg[k] = v
				}
			}
			raw, _ := json.Marshal(cfg)
			_, err := parseConfig(raw)
			var ce *sdk.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error = %v, want a *sdk.ConfigError", err)
			}
			for _, f := range ce.Fields {
				if f.Field == tt.field && strings.Contains(f.Message, tt.says) {
					if strings.Contains(f.Message, testSecret) || strings.Contains(f.Message, "BEGIN") {
						t.Errorf("message repeats a secret: %s", f.Message)
					}
					return
				}
			}
			t.Errorf("problems = %v, want %s saying %q", ce.Fields, tt.field, tt.says)
		})
	}
}

func TestConfigurationThatIsNotAnObject(t *testing.T) {
	for _, raw := range []string{``, `null`, `[]`, `"x"`, `{`} {
		_, err := parseConfig([]byte(raw))
		wantCode(t, err, sdk.CodeInvalidConfig)
	}
}

func TestOptionalProfileFieldsCanBeTurnedOff(t *testing.T) {
	p := newStubProvider(t)
	in := mustParse(t, p.config(map[string]any{"profileMap": map[string]any{"email": "", "name": "display_name"}}))
	want := oauth2kit.ProfileMap{ID: "id", Name: "display_name", Avatar: "avatar", Phone: "phone"}
	if in.profileMap != want {
		t.Errorf("profile map = %+v, want %+v", in.profileMap, want)
	}
}

var testKeys = sync.OnceValues(func() (*rsa.PrivateKey, *ecdsa.PrivateKey) {
	r, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	e, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return r, e
})

func rsaPEM(t *testing.T) string {
	r, _ := testKeys()
	return pemPKCS8(t, r)
}

func ecPEM(t *testing.T) string {
	_, e := testKeys()
	return pemPKCS8(t, e)
}

func pemPKCS8(t *testing.T, key any) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// The provider is sent the client secret, codes and tokens, and its answers
// are taken for the user's identity: its endpoints must be https, plain http
// only on a loopback address (a provider on this machine), as the oidc and
// github plugins have held them. A network on the way read the secret and the
// tokens, and could answer userinfo with the user id of its choice.
func TestEndpointsMustBeHTTPSOffLoopback(t *testing.T) {
	base := map[string]any{
		"authorizationEndpoint": "https://id.example.com/authorize", "tokenEndpoint": "https://id.example.com/token",
		"userInfoEndpoint": "https://api.example.com/me", "clientId": "c", "clientSecret": "s",
	}
	for _, field := range []string{"authorizationEndpoint", "tokenEndpoint", "userInfoEndpoint", "revocationEndpoint", "issuer"} {
		raw := map[string]any{}
		for k, v := range base {
			raw[k] = v
		}
		raw[field] = "http://id.example.com/x"
		b, _ := json.Marshal(raw)
		_, err := parseConfig(b)
		var ce *sdk.ConfigError
		if !errors.As(err, &ce) || !strings.Contains(ce.Error(), field+": must be https (http only on a loopback address)") {
			t.Errorf("%s over plain http: %v", field, err)
		}
		raw[field] = "http://127.0.0.1:9400/x"
		b, _ = json.Marshal(raw)
		if _, err := parseConfig(b); err != nil {
			t.Errorf("%s over http on loopback: %v", field, err)
		}
	}
}

// A public client (tokenEndpointAuthMethod none) proves nothing at the token
// endpoint: PKCE alone ties its code to the sign-in (RFC 9700 2.1.1), so it
// cannot be turned off there; a confidential client may still turn it off
// for a provider that refuses it.
func TestPublicClientNeedsPKCE(t *testing.T) {
	for _, tc := range []struct {
		method, pkce string
		ok           bool
	}{{"none", "none", false}, {"none", "S256", true}, {"client_secret_post", "none", true}} {
		cfg := map[string]any{
			"authorizationEndpoint": "https://id.example.com/authorize", "tokenEndpoint": "https://id.example.com/token",
			"userInfoEndpoint": "https://id.example.com/me", "clientId": "c", "tokenEndpointAuthMethod": tc.method, "pkce": tc.pkce,
		}
		if tc.method != "none" {
			cfg["clientSecret"] = "s"
		}
		b, _ := json.Marshal(cfg)
		_, err := parseConfig(b)
		if (err == nil) != tc.ok || (err != nil && !strings.Contains(err.Error(), "a public client's code is tied to its sign-in by PKCE alone")) {
			t.Errorf("%s with pkce %s: %v; want accepted: %v", tc.method, tc.pkce, err, tc.ok)
		}
	}
}
