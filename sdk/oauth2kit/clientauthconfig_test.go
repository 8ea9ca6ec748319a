package oauth2kit

import (
	"slices"
	"strings"
	"testing"

	"github.com/idplug/idplug/sdk"
)

func TestCheckClientAuth(t *testing.T) {
	ecPEM := pkcs8(t, testKeys().ec)
	secret := strings.Repeat("s", 64)
	cases := []struct {
		name           string
		c              ClientConfig
		secretOptional bool
		method         AuthMethod
		alg            string
		fields         []string // the fields with problems, in order
	}{
		{"Logto's default", ClientConfig{ClientID: "c", ClientSecret: secret}, false, ClientSecretPost, "", nil},
		{"missing id and secret", ClientConfig{TokenEndpointAuthMethod: "client_secret_basic"}, false, ClientSecretBasic, "", []string{"clientId", "clientSecret"}},
		{"secret optional", ClientConfig{ClientID: "c", TokenEndpointAuthMethod: "client_secret_post"}, true, ClientSecretPost, "", nil},
		{"unknown method", ClientConfig{ClientID: "c", TokenEndpointAuthMethod: "magic"}, false, "magic", "", []string{"tokenEndpointAuthMethod"}},
		{"none ignores a left-over secret and HS256", ClientConfig{ClientID: "c", TokenEndpointAuthMethod: "none", ClientSecret: "x", ClientSecretJWTSigningAlgorithm: "HS256"}, false, AuthNone, "", nil},
		{"client_secret_jwt defaults to HS256", ClientConfig{ClientID: "c", TokenEndpointAuthMethod: "client_secret_jwt", ClientSecret: secret}, false, ClientSecretJWT, "HS256", nil},
		{"client_secret_jwt with RS256", ClientConfig{ClientID: "c", TokenEndpointAuthMethod: "client_secret_jwt", ClientSecret: secret, ClientSecretJWTSigningAlgorithm: "RS256"}, false, ClientSecretJWT, "RS256", []string{"clientSecretJwtSigningAlgorithm"}},
		{"client_secret_jwt with a short secret", ClientConfig{ClientID: "c", TokenEndpointAuthMethod: "client_secret_jwt", ClientSecret: "short", ClientSecretJWTSigningAlgorithm: "HS512"}, false, ClientSecretJWT, "HS512", []string{"clientSecret"}},
		{"private_key_jwt", ClientConfig{ClientID: "c", TokenEndpointAuthMethod: "private_key_jwt", PrivateKey: ecPEM, PrivateKeyID: "k1"}, false, PrivateKeyJWT, "ES256", nil},
		{"private_key_jwt without a key, with an HMAC algorithm", ClientConfig{ClientID: "c", TokenEndpointAuthMethod: "private_key_jwt", ClientSecretJWTSigningAlgorithm: "HS256"}, false, PrivateKeyJWT, "", []string{"clientSecretJwtSigningAlgorithm", "privateKey"}},
		{"private_key_jwt with a garbage key", ClientConfig{ClientID: "c", TokenEndpointAuthMethod: "private_key_jwt", PrivateKey: "nope"}, false, PrivateKeyJWT, "", []string{"privateKey"}},
		{"private_key_jwt with the wrong algorithm", ClientConfig{ClientID: "c", TokenEndpointAuthMethod: "private_key_jwt", PrivateKey: ecPEM, PrivateKeySigningAlgorithm: "RS256"}, false, PrivateKeyJWT, "", []string{"privateKeySigningAlgorithm"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p sdk.ConfigError
			var a ClientAuth
			if c.secretOptional {
				a = c.c.CheckClientAuthSecretOptional(&p)
			} else {
				a = c.c.CheckClientAuth(&p)
			}
			var fields []string
			for _, f := range p.Fields {
				fields = append(fields, f.Field)
				if c.c.ClientSecret != "" && strings.Contains(f.Message, c.c.ClientSecret) {
					t.Errorf("%s: the message repeats the secret: %s", f.Field, f.Message)
				}
			}
			if !slices.Equal(fields, c.fields) {
				t.Errorf("problems on %v (%v), want %v", fields, p.Fields, c.fields)
			}
			if a.Method != c.method || a.SigningAlgorithm != c.alg {
				t.Errorf("method %q alg %q, want %q %q", a.Method, a.SigningAlgorithm, c.method, c.alg)
			}
			if c.method == PrivateKeyJWT && c.fields == nil && (a.PrivateKey == nil || a.KeyID != c.c.PrivateKeyID) {
				t.Errorf("private key or key id not carried: %+v", a)
			}
		})
	}
	if got := AuthMethodNames(); len(got) != len(AuthMethods()) || got[0] != string(AuthMethods()[0]) {
		t.Errorf("AuthMethodNames() = %v", got)
	}
}

func TestCheckClientAuthCarriesTheAudience(t *testing.T) {
	c := ClientConfig{ClientID: "c", ClientSecret: "s", ClientAssertionAudience: "https://id.example.com"}
	var p sdk.ConfigError
	if a := c.CheckClientAuth(&p); a.Audience != c.ClientAssertionAudience || a.ClientID != "c" || a.ClientSecret != "s" || len(p.Fields) != 0 {
		t.Errorf("client auth = %+v, problems %v", a, p.Fields)
	}
}
