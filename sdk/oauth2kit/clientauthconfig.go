package oauth2kit

import (
	"strings"

	"github.com/idplug/idplug/sdk"
)

// ClientAuthSettings are the client authentication fields of a connector
// configuration in Logto's shape (tokenEndpointAuthMethod, clientId, clientSecret,
// clientSecretJwtSigningAlgorithm) with idplug's additions for private_key_jwt.
// Connectors that take Logto's field names check them with Check, so every such
// connector reports the same problems under the same field names.
type ClientAuthSettings struct {
	Method              string // tokenEndpointAuthMethod; client_secret_post when empty (Logto's default)
	ClientID            string // clientId
	ClientSecret        string // clientSecret
	SecretJWTAlgorithm  string // clientSecretJwtSigningAlgorithm; HS256 when empty
	PrivateKey          string // privateKey (PEM or JWK)
	PrivateKeyID        string // privateKeyId
	PrivateKeyAlgorithm string // privateKeySigningAlgorithm; from the key when empty
	Audience            string // clientAssertionAudience; the token endpoint when empty
	// SecretOptional is set by connectors that make the client secret themselves
	// (Apple's, signed from a private key), so an empty clientSecret is no problem.
	SecretOptional bool
}

// Check turns the settings into a ClientAuth, adding a problem to p for every bad
// field. Fields that do not apply to the chosen method are ignored, as Logto's forms
// keep them around (a clientSecret left over after switching to none, the default
// HS256).
func (s ClientAuthSettings) Check(p *sdk.ConfigError) ClientAuth {
	a := ClientAuth{Method: AuthMethod(s.Method), ClientID: s.ClientID, ClientSecret: s.ClientSecret, Audience: s.Audience}
	if s.ClientID == "" {
		p.Add("clientId", "is required")
	}
	if a.Method == "" {
		a.Method = ClientSecretPost
	}
	if !a.Method.Valid() {
		p.Add("tokenEndpointAuthMethod", "unknown method %q; use one of %s", s.Method, strings.Join(AuthMethodNames(), ", "))
		return a
	}
	if a.Method.UsesSecret() && s.ClientSecret == "" && !s.SecretOptional {
		p.Add("clientSecret", "is required for %s", a.Method)
	}
	switch a.Method {
	case ClientSecretJWT:
		a.SigningAlgorithm = s.secretSigningAlgorithm(p)
	case PrivateKeyJWT:
		s.privateKeyAuth(p, &a)
	}
	return a
}

func (s ClientAuthSettings) secretSigningAlgorithm(p *sdk.ConfigError) string {
	alg := s.SecretJWTAlgorithm
	if alg == "" {
		alg = "HS256"
	}
	if !IsHMACAlgorithm(alg) {
		p.Add("clientSecretJwtSigningAlgorithm", "must be HS256, HS384 or HS512, got %q", alg)
		return alg
	}
	if s.ClientSecret != "" {
		if err := CheckHMACSecret(alg, s.ClientSecret); err != nil {
			p.Add("clientSecret", "%v", err)
		}
	}
	return alg
}

func (s ClientAuthSettings) privateKeyAuth(p *sdk.ConfigError, a *ClientAuth) {
	if s.SecretJWTAlgorithm != "" {
		p.Add("clientSecretJwtSigningAlgorithm", "is for client_secret_jwt; private_key_jwt signs with privateKeySigningAlgorithm")
	}
	a.KeyID = s.PrivateKeyID
	if s.PrivateKey == "" {
		p.Add("privateKey", "is required for private_key_jwt")
		return
	}
	key, err := ParsePrivateKey(s.PrivateKey)
	if err != nil {
		p.Add("privateKey", "%v", err)
		return
	}
	alg, err := KeySigningAlgorithm(key, s.PrivateKeyAlgorithm)
	if err != nil {
		p.Add("privateKeySigningAlgorithm", "%v", err)
		return
	}
	a.PrivateKey, a.SigningAlgorithm = key, alg
}

// AuthMethodNames lists the methods in the order a form shows them.
func AuthMethodNames() []string {
	names := make([]string, 0, len(AuthMethods()))
	for _, m := range AuthMethods() {
		names = append(names, string(m))
	}
	return names
}
