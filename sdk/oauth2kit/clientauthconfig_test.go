package oauth2kit

import (
	"slices"
	"strings"
	"testing"

	"github.com/idplug/idplug/sdk"
)

func TestClientAuthSettings(t *testing.T) {
	ecPEM := pkcs8(t, testKeys().ec)
	secret := strings.Repeat("s", 64)
	cases := []struct {
		name   string
		s      ClientAuthSettings
		method AuthMethod
		alg    string
		fields []string // the fields with problems, in order
	}{
		{"Logto's default", ClientAuthSettings{ClientID: "c", ClientSecret: secret}, ClientSecretPost, "", nil},
		{"missing id and secret", ClientAuthSettings{Method: "client_secret_basic"}, ClientSecretBasic, "", []string{"clientId", "clientSecret"}},
		{"secret optional", ClientAuthSettings{ClientID: "c", Method: "client_secret_post", SecretOptional: true}, ClientSecretPost, "", nil},
		{"unknown method", ClientAuthSettings{ClientID: "c", Method: "magic"}, "magic", "", []string{"tokenEndpointAuthMethod"}},
		{"none ignores a left-over secret and HS256", ClientAuthSettings{ClientID: "c", Method: "none", ClientSecret: "x", SecretJWTAlgorithm: "HS256"}, AuthNone, "", nil},
		{"client_secret_jwt defaults to HS256", ClientAuthSettings{ClientID: "c", Method: "client_secret_jwt", ClientSecret: secret}, ClientSecretJWT, "HS256", nil},
		{"client_secret_jwt with RS256", ClientAuthSettings{ClientID: "c", Method: "client_secret_jwt", ClientSecret: secret, SecretJWTAlgorithm: "RS256"}, ClientSecretJWT, "RS256", []string{"clientSecretJwtSigningAlgorithm"}},
		{"client_secret_jwt with a short secret", ClientAuthSettings{ClientID: "c", Method: "client_secret_jwt", ClientSecret: "short", SecretJWTAlgorithm: "HS512"}, ClientSecretJWT, "HS512", []string{"clientSecret"}},
		{"private_key_jwt", ClientAuthSettings{ClientID: "c", Method: "private_key_jwt", PrivateKey: ecPEM, PrivateKeyID: "k1"}, PrivateKeyJWT, "ES256", nil},
		{"private_key_jwt without a key, with an HMAC algorithm", ClientAuthSettings{ClientID: "c", Method: "private_key_jwt", SecretJWTAlgorithm: "HS256"}, PrivateKeyJWT, "", []string{"clientSecretJwtSigningAlgorithm", "privateKey"}},
		{"private_key_jwt with a garbage key", ClientAuthSettings{ClientID: "c", Method: "private_key_jwt", PrivateKey: "nope"}, PrivateKeyJWT, "", []string{"privateKey"}},
		{"private_key_jwt with the wrong algorithm", ClientAuthSettings{ClientID: "c", Method: "private_key_jwt", PrivateKey: ecPEM, PrivateKeyAlgorithm: "RS256"}, PrivateKeyJWT, "", []string{"privateKeySigningAlgorithm"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p sdk.ConfigError
			a := c.s.Check(&p)
			var fields []string
			for _, f := range p.Fields {
				fields = append(fields, f.Field)
				if c.s.ClientSecret != "" && strings.Contains(f.Message, c.s.ClientSecret) {
					t.Errorf("%s: the message repeats the secret: %s", f.Field, f.Message)
				}
			}
			if !slices.Equal(fields, c.fields) {
				t.Errorf("problems on %v (%v), want %v", fields, p.Fields, c.fields)
			}
			if a.Method != c.method || a.SigningAlgorithm != c.alg {
				t.Errorf("method %q alg %q, want %q %q", a.Method, a.SigningAlgorithm, c.method, c.alg)
			}
			if c.method == PrivateKeyJWT && c.fields == nil && (a.PrivateKey == nil || a.KeyID != c.s.PrivateKeyID) {
				t.Errorf("private key or key id not carried: %+v", a)
			}
		})
	}
	if got := AuthMethodNames(); len(got) != len(AuthMethods()) || got[0] != string(AuthMethods()[0]) {
		t.Errorf("AuthMethodNames() = %v", got)
	}
}
