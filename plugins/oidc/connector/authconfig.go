package connector

import (
	"github.com/idplug/idplug/sdk"
	"github.com/idplug/idplug/sdk/oauth2kit"
)

// clientAuth checks how the client authenticates to the token endpoint.
func (c *config) clientAuth(p *sdk.ConfigError) oauth2kit.ClientAuth {
	return oauth2kit.ClientAuthSettings{
		Method:              c.TokenEndpointAuthMethod,
		ClientID:            c.ClientID,
		ClientSecret:        c.ClientSecret,
		SecretJWTAlgorithm:  c.ClientSecretJWTSigningAlgorithm,
		PrivateKey:          c.PrivateKey,
		PrivateKeyID:        c.PrivateKeyID,
		PrivateKeyAlgorithm: c.PrivateKeySigningAlgorithm,
		Audience:            c.ClientAssertionAudience,
		SecretOptional:      c.Provider == providerApple,
	}.Check(p)
}
