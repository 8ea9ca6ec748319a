package connector

import (
	"strings"

	"github.com/idplug/idplug/sdk"
	"github.com/idplug/idplug/sdk/oauth2kit"
)

// clientAuth checks how the client authenticates to the token endpoint. Fields that
// do not apply to the chosen method are ignored, as Logto's forms keep them around
// (a clientSecret left over after switching to none, the default HS256).
func (c *config) clientAuth(p *sdk.ConfigError) oauth2kit.ClientAuth {
	a := oauth2kit.ClientAuth{
		Method:       oauth2kit.AuthMethod(c.TokenEndpointAuthMethod),
		ClientID:     c.ClientID,
		ClientSecret: c.ClientSecret,
		Audience:     c.ClientAssertionAudience,
	}
	if c.ClientID == "" {
		p.Add("clientId", "is required")
	}
	if a.Method == "" {
		a.Method = oauth2kit.ClientSecretPost // Logto's default
	}
	if !a.Method.Valid() {
		p.Add("tokenEndpointAuthMethod", "unknown method %q; use one of %s", c.TokenEndpointAuthMethod, strings.Join(authMethodNames(), ", "))
		return a
	}
	if a.Method.UsesSecret() && c.ClientSecret == "" && c.Provider != providerApple {
		p.Add("clientSecret", "is required for %s", a.Method)
	}
	switch a.Method {
	case oauth2kit.ClientSecretJWT:
		a.SigningAlgorithm = c.secretSigningAlgorithm(p)
	case oauth2kit.PrivateKeyJWT:
		c.privateKeyAuth(p, &a)
	}
	return a
}

func (c *config) secretSigningAlgorithm(p *sdk.ConfigError) string {
	alg := c.ClientSecretJWTSigningAlgorithm
	if alg == "" {
		alg = "HS256"
	}
	if !oauth2kit.IsHMACAlgorithm(alg) {
		p.Add("clientSecretJwtSigningAlgorithm", "must be HS256, HS384 or HS512, got %q", alg)
		return alg
	}
	if c.ClientSecret != "" {
		if err := oauth2kit.CheckHMACSecret(alg, c.ClientSecret); err != nil {
			p.Add("clientSecret", "%v", err)
		}
	}
	return alg
}

func (c *config) privateKeyAuth(p *sdk.ConfigError, a *oauth2kit.ClientAuth) {
	if c.ClientSecretJWTSigningAlgorithm != "" {
		p.Add("clientSecretJwtSigningAlgorithm", "is for client_secret_jwt; private_key_jwt signs with privateKeySigningAlgorithm")
	}
	a.KeyID = c.PrivateKeyID
	if c.PrivateKey == "" {
		p.Add("privateKey", "is required for private_key_jwt")
		return
	}
	key, err := oauth2kit.ParsePrivateKey(c.PrivateKey)
	if err != nil {
		p.Add("privateKey", "%v", err)
		return
	}
	alg, err := oauth2kit.KeySigningAlgorithm(key, c.PrivateKeySigningAlgorithm)
	if err != nil {
		p.Add("privateKeySigningAlgorithm", "%v", err)
		return
	}
	a.PrivateKey, a.SigningAlgorithm = key, alg
}

// authMethodNames lists the methods in the order the form shows them.
func authMethodNames() []string {
	names := make([]string, 0, len(oauth2kit.AuthMethods()))
	for _, m := range oauth2kit.AuthMethods() {
		names = append(names, string(m))
	}
	return names
}
