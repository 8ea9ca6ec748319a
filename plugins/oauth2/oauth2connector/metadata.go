package oauth2connector

import (
	"github.com/idplug/idplug/sdk"
	"github.com/idplug/idplug/sdk/oauth2kit"
)

func metadata() sdk.Metadata {
	return oauth2kit.StandardConnector{
		Target: "oauth2",
		Name:   sdk.I18n{"en": "OAuth 2.0", "zh-CN": "OAuth 2.0", "ja": "OAuth 2.0", "fr": "OAuth 2.0"},
		Description: sdk.I18n{
			"en":    "Sign in with any identity provider that supports the OAuth 2.0 authorization code flow.",
			"zh-CN": "使用任何支持 OAuth 2.0 授权码流程的身份提供商登录。",
			"ja":    "OAuth 2.0 認可コードフローに対応した任意の ID プロバイダーでサインインします。",
			"fr":    "Connexion avec tout fournisseur d'identité qui prend en charge le flux de code d'autorisation OAuth 2.0.",
		},
		Docs:           docs,
		FormItems:      formItems(),
		ConfigTemplate: configTemplate,
	}.Metadata()
}

// configTemplate is a starting point for a new instance.
const configTemplate = `{
  "authorizationEndpoint": "https://id.example.com/oauth/authorize",
  "tokenEndpoint": "https://id.example.com/oauth/token",
  "userInfoEndpoint": "https://id.example.com/oauth/userinfo",
  "clientId": "<client-id>",
  "clientSecret": "<client-secret>",
  "tokenEndpointAuthMethod": "client_secret_post",
  "scope": "openid profile email",
  "profileMap": {"id": "sub", "name": "name", "avatar": "picture", "email": "email", "emailVerified": "email_verified", "phone": "phone_number"},
  "customConfig": {}
}`

func formItems() []sdk.FormItem {
	return []sdk.FormItem{
		{Key: "authorizationEndpoint", Label: "Authorization Endpoint", Type: sdk.FormText, Required: true, Placeholder: "https://id.example.com/oauth/authorize"},
		{Key: "tokenEndpoint", Label: "Token Endpoint", Type: sdk.FormText, Required: true, Placeholder: "https://id.example.com/oauth/token"},
		{Key: "userInfoEndpoint", Label: "User Info Endpoint", Type: sdk.FormText, Required: true, Placeholder: "https://id.example.com/oauth/userinfo"},
		{Key: "clientId", Label: "Client ID", Type: sdk.FormText, Required: true, Placeholder: "<client-id>"},
		{Key: "clientSecret", Label: "Client Secret", Type: sdk.FormText, Confidential: true, Placeholder: "<client-secret>",
			// Not required, and shown for every method: a show condition cannot name
			// the three methods that use it, and none and private_key_jwt ignore it.
			Description: "Required for client_secret_post, client_secret_basic and client_secret_jwt."},
		{Key: "tokenEndpointAuthMethod", Label: "Token Endpoint Auth Method", Type: sdk.FormSelect, Required: true,
			SelectItems: oauth2kit.SelectItems(oauth2kit.AuthMethodNames()...), DefaultValue: string(oauth2kit.ClientSecretPost),
			Description: "How the client authenticates at the token endpoint."},
		{Key: "clientSecretJwtSigningAlgorithm", Label: "Client Secret JWT Signing Algorithm", Type: sdk.FormSelect,
			SelectItems: oauth2kit.SelectItems("HS256", "HS384", "HS512"), DefaultValue: "HS256", ShowConditions: oauth2kit.ShowForAuthMethod(oauth2kit.ClientSecretJWT),
			Description: "Signs the client assertion. The secret must be at least 32, 48 or 64 bytes long."},
		{Key: "privateKey", Label: "Private Key", Type: sdk.FormMultilineText, Confidential: true, ShowConditions: oauth2kit.ShowForAuthMethod(oauth2kit.PrivateKeyJWT),
			Placeholder: "-----BEGIN PRIVATE KEY-----", Description: "PEM, unencrypted: RSA (2048 bits or more) or EC P-256."},
		{Key: "privateKeyId", Label: "Private Key ID (kid)", Type: sdk.FormText, ShowConditions: oauth2kit.ShowForAuthMethod(oauth2kit.PrivateKeyJWT),
			Description: "The kid of the key in the client's JWK set."},
		{Key: "privateKeySigningAlgorithm", Label: "Private Key Signing Algorithm", Type: sdk.FormSelect, ShowConditions: oauth2kit.ShowForAuthMethod(oauth2kit.PrivateKeyJWT),
			SelectItems: oauth2kit.SelectItems("RS256", "ES256"), Description: "Defaults to RS256 for an RSA key and ES256 for an EC key."},
		{Key: "clientAssertionAudience", Label: "Client Assertion Audience", Type: sdk.FormText,
			Description: "The aud of client_secret_jwt and private_key_jwt assertions; defaults to the token endpoint."},
		{Key: "tokenEndpointResponseType", Label: "Token Endpoint Response Type", Type: sdk.FormSelect, SelectItems: oauth2kit.SelectItems("json", "query-string"),
			Description: "Leave empty to read JSON and form-encoded answers by their Content-Type."},
		{Key: "responseType", Label: "Response Type", Type: sdk.FormSelect, SelectItems: oauth2kit.SelectItems("code"), DefaultValue: "code"},
		{Key: "grantType", Label: "Grant Type", Type: sdk.FormSelect, SelectItems: oauth2kit.SelectItems("authorization_code"), DefaultValue: "authorization_code"},
		{Key: "scope", Label: "Scope", Type: sdk.FormMultilineText, Placeholder: "Enter the scopes (separated by a space)"},
		{Key: "pkce", Label: "PKCE", Type: sdk.FormSelect, SelectItems: oauth2kit.SelectItems("S256", "none"), DefaultValue: "S256",
			Description: "Proof Key for Code Exchange. Turn it off only for providers that refuse it."},
		{Key: "issuer", Label: "Issuer", Type: sdk.FormText, Placeholder: "https://id.example.com",
			Description: "When set, the callback must carry this iss (RFC 9207). Set it only for providers that send iss."},
		{Key: "userInfoMethod", Label: "User Info Method", Type: sdk.FormSelect, SelectItems: oauth2kit.SelectItems("GET", "POST"), DefaultValue: "GET"},
		{Key: "profileMap", Label: "Profile Map", Type: sdk.FormJSON, DefaultValue: map[string]string{"id": "id", "name": "name", "avatar": "avatar", "email": "email", "phone": "phone"},
			Description: "Where each profile field is in the userinfo response, as a path such as data.user.id or emails.0.value; with emailVerified (like email_verified), the email is kept only when that field is true."},
		{Key: "customConfig", Label: "Custom Config", Type: sdk.FormJSON, DefaultValue: map[string]string{},
			Description: "Extra parameters for the authorization URL and the token requests, sent as written."},
		{Key: "requestTimeout", Label: "Request Timeout", Type: sdk.FormText, DefaultValue: defaultRequestTimeout.String(),
			Description: "Bounds each call to the provider; at most 9s."},
		{Key: "caCertificates", Label: "Extra CA Certificates", Type: sdk.FormMultilineText, Placeholder: "-----BEGIN CERTIFICATE-----",
			Description: "PEM certificates to trust besides the system's."},
		{Key: "userAgent", Label: "User-Agent", Type: sdk.FormText, Placeholder: "idplug-oauth2/<version>"},
		{Key: "storeTokens", Label: "Store Tokens", Type: sdk.FormSwitch, DefaultValue: false,
			Description: "Return the provider's tokens with the profile, for calling its API later."},
		{Key: "revocationEndpoint", Label: "Revocation Endpoint", Type: sdk.FormText, Placeholder: "https://id.example.com/oauth/revoke",
			Description: "Where tokens are revoked (RFC 7009) when the token vault deletes them. Optional."},
	}
}
