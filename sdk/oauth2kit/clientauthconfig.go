package oauth2kit

import (
	"strings"

	"github.com/idplug/idplug/sdk"
)

// CheckClientAuth turns the client authentication fields into a ClientAuth, adding
// a problem to p for every bad field. Fields that do not apply to the chosen method
// are ignored, as Logto's forms keep them around (a clientSecret left over after
// switching to none, the default HS256).
func (c *ClientConfig) CheckClientAuth(p *sdk.ConfigError) ClientAuth {
	return c.checkClientAuth(p, false)
}

// CheckClientAuthSecretOptional is CheckClientAuth for a connector that makes the
// client secret itself (Apple's, signed from a private key), so an empty
// clientSecret is no problem.
func (c *ClientConfig) CheckClientAuthSecretOptional(p *sdk.ConfigError) ClientAuth {
	return c.checkClientAuth(p, true)
}

func (c *ClientConfig) checkClientAuth(p *sdk.ConfigError, secretOptional bool) ClientAuth {
	a := ClientAuth{Method: AuthMethod(c.TokenEndpointAuthMethod), ClientID: c.ClientID, ClientSecret: c.ClientSecret, Audience: c.ClientAssertionAudience}
	if c.ClientID == "" {
		p.Add("clientId", "is required")
	}
	if a.Method == "" {
		a.Method = ClientSecretPost
	}
	if !a.Method.Valid() {
		p.Add("tokenEndpointAuthMethod", "unknown method %q; use one of %s", c.TokenEndpointAuthMethod, strings.Join(AuthMethodNames(), ", "))
		return a
	}
	if a.Method.UsesSecret() && c.ClientSecret == "" && !secretOptional {
		p.Add("clientSecret", "is required for %s", a.Method)
	}
	switch a.Method {
	case ClientSecretJWT:
		a.SigningAlgorithm = c.secretSigningAlgorithm(p)
	case PrivateKeyJWT:
		c.privateKeyAuth(p, &a)
	}
	return a
}

func (c *ClientConfig) secretSigningAlgorithm(p *sdk.ConfigError) string {
	alg := c.ClientSecretJWTSigningAlgorithm
	if alg == "" {
		alg = "HS256"
	}
	if !IsHMACAlgorithm(alg) {
		p.Add("clientSecretJwtSigningAlgorithm", "must be HS256, HS384 or HS512, got %q", alg)
		return alg
	}
	if c.ClientSecret != "" {
		if err := CheckHMACSecret(alg, c.ClientSecret); err != nil {
			p.Add("clientSecret", "%v", err)
		}
	}
	return alg
}

func (c *ClientConfig) privateKeyAuth(p *sdk.ConfigError, a *ClientAuth) {
	if c.ClientSecretJWTSigningAlgorithm != "" {
		p.Add("clientSecretJwtSigningAlgorithm", "is for client_secret_jwt; private_key_jwt signs with privateKeySigningAlgorithm")
	}
	a.KeyID = c.PrivateKeyID
	if c.PrivateKey == "" {
		p.Add("privateKey", "is required for private_key_jwt")
		return
	}
	key, err := ParsePrivateKey(c.PrivateKey)
	if err != nil {
		p.Add("privateKey", "%v", err)
		return
	}
	alg, err := KeySigningAlgorithm(key, c.PrivateKeySigningAlgorithm)
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
