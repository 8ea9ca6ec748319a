package oidcconnector

import (
	"github.com/idplug/idplug/sdk"
	"github.com/idplug/idplug/sdk/oauth2kit"
)

func metadata() sdk.Metadata {
	return oauth2kit.StandardConnector{
		Target: "oidc",
		Name:   sdk.I18n{"en": "OpenID Connect", "zh-CN": "OpenID Connect", "ja": "OpenID Connect", "fr": "OpenID Connect"},
		Description: sdk.I18n{
			"en":    "Sign in with any OpenID Connect provider, found by discovery, with every ID token verified. Presets for Google, Microsoft and Apple.",
			"zh-CN": "使用任何 OpenID Connect 提供商登录（支持自动发现），并验证每个 ID 令牌。内置 Google、Microsoft 和 Apple 预设。",
			"ja":    "ディスカバリーで見つけた任意の OpenID Connect プロバイダーでサインインし、すべての ID トークンを検証します。Google、Microsoft、Apple のプリセット付き。",
			"fr":    "Connexion avec tout fournisseur OpenID Connect, trouvé par découverte, chaque jeton d'identité vérifié. Préréglages pour Google, Microsoft et Apple.",
		},
		Docs:           docs,
		FormItems:      formItems(),
		ConfigTemplate: configTemplate,
		// What the presets reach when a config names only "provider": the
		// issuers, and the endpoints their discovery documents give on other
		// sites (googleapis.com).
		EgressHosts: []string{
			"accounts.google.com", "oauth2.googleapis.com", "openidconnect.googleapis.com", "www.googleapis.com",
			"login.microsoftonline.com", "graph.microsoft.com", "appleid.apple.com",
		},
	}.Metadata()
}

// configTemplate is a starting point for a new instance.
const configTemplate = `{
  "issuer": "https://id.example.com",
  "clientId": "<client-id>",
  "clientSecret": "<client-secret>",
  "tokenEndpointAuthMethod": "client_secret_basic",
  "scope": "openid profile email"
}`

// showForProvider shows a form item only for one preset.
func showForProvider(name string) []sdk.ShowCondition {
	return []sdk.ShowCondition{{TargetKey: "provider", ExpectValue: name}}
}

func formItems() []sdk.FormItem {
	return []sdk.FormItem{
		{Key: "provider", Label: "Provider", Type: sdk.FormSelect, SelectItems: []sdk.SelectItem{
			{Value: providerGeneric, Title: "Any OpenID provider"}, {Value: providerGoogle, Title: "Google"},
			{Value: providerMicrosoft, Title: "Microsoft Entra ID"}, {Value: providerApple, Title: "Apple"},
		}, Description: "A preset fills in the issuer, scope and the provider's quirks."},
		{Key: "tenant", Label: "Tenant", Type: sdk.FormText, Placeholder: "common", ShowConditions: showForProvider(providerMicrosoft),
			Description: "Directory (tenant) ID or domain, or common, organizations or consumers."},
		{Key: "allowedTenants", Label: "Allowed Tenants", Type: sdk.FormJSON, ShowConditions: showForProvider(providerMicrosoft),
			Placeholder: `["72f988bf-86f1-41af-91ab-2d7cd011db47"]`,
			Description: "With tenant common or organizations: the directory (tenant) IDs whose accounts may sign in; all when unset."},
		{Key: "teamId", Label: "Team ID", Type: sdk.FormText, ShowConditions: showForProvider(providerApple)},
		{Key: "issuer", Label: "Issuer", Type: sdk.FormText, Placeholder: "https://id.example.com",
			Description: "The provider's issuer; its /.well-known/openid-configuration gives the endpoints and keys."},
		{Key: "authorizationEndpoint", Label: "Authorization Endpoint", Type: sdk.FormText, Placeholder: "https://id.example.com/authorize",
			Description: "Required without issuer; overrides the discovered one."},
		{Key: "tokenEndpoint", Label: "Token Endpoint", Type: sdk.FormText, Placeholder: "https://id.example.com/token",
			Description: "Required without issuer; overrides the discovered one."},
		{Key: "userInfoEndpoint", Label: "User Info Endpoint", Type: sdk.FormText,
			Description: "When set, its claims are merged into the profile (its sub must be the ID token's)."},
		{Key: "fetchUserInfo", Label: "Fetch User Info", Type: sdk.FormSwitch, DefaultValue: false,
			Description: "Merge the discovered userinfo endpoint's claims into the profile."},
		{Key: "clientId", Label: "Client ID", Type: sdk.FormText, Required: true},
		{Key: "clientSecret", Label: "Client Secret", Type: sdk.FormText, Confidential: true,
			Description: "Required for client_secret_post, client_secret_basic and client_secret_jwt (not for Apple)."},
		{Key: "tokenEndpointAuthMethod", Label: "Token Endpoint Auth Method", Type: sdk.FormSelect,
			SelectItems: oauth2kit.SelectItems(oauth2kit.AuthMethodNames()...), DefaultValue: string(oauth2kit.ClientSecretPost)},
		{Key: "clientSecretJwtSigningAlgorithm", Label: "Client Secret JWT Signing Algorithm", Type: sdk.FormSelect,
			SelectItems: oauth2kit.SelectItems("HS256", "HS384", "HS512"), DefaultValue: "HS256", ShowConditions: oauth2kit.ShowForAuthMethod(oauth2kit.ClientSecretJWT)},
		{Key: "privateKey", Label: "Private Key", Type: sdk.FormMultilineText, Confidential: true, Placeholder: "-----BEGIN PRIVATE KEY-----",
			Description: "For private_key_jwt, or Apple's .p8 key."},
		{Key: "privateKeyId", Label: "Private Key ID (kid)", Type: sdk.FormText, Description: "For private_key_jwt, or Apple's Key ID."},
		{Key: "privateKeySigningAlgorithm", Label: "Private Key Signing Algorithm", Type: sdk.FormSelect, SelectItems: oauth2kit.SelectItems("RS256", "ES256"),
			ShowConditions: oauth2kit.ShowForAuthMethod(oauth2kit.PrivateKeyJWT)},
		{Key: "clientAssertionAudience", Label: "Client Assertion Audience", Type: sdk.FormText,
			Description: "The aud of client assertions; defaults to the token endpoint."},
		{Key: "tokenEndpointResponseType", Label: "Token Endpoint Response Type", Type: sdk.FormSelect, SelectItems: oauth2kit.SelectItems("json", "query-string")},
		{Key: "responseType", Label: "Response Type", Type: sdk.FormSelect, SelectItems: oauth2kit.SelectItems("code"), DefaultValue: "code"},
		{Key: "grantType", Label: "Grant Type", Type: sdk.FormSelect, SelectItems: oauth2kit.SelectItems("authorization_code"), DefaultValue: "authorization_code"},
		{Key: "scope", Label: "Scope", Type: sdk.FormText, Placeholder: "openid profile email", Description: "openid is added when missing."},
		{Key: "requireAcr", Label: "Require ACR", Type: sdk.FormSwitch, DefaultValue: false,
			Description: "Refuse an ID token whose acr is not one of authRequestOptionalConfig.acrValues."},
		{Key: "idTokenVerificationConfig", Label: "ID Token Verification Config", Type: sdk.FormJSON,
			Description: "jwksUri, issuer, algorithms, clockTolerance, maxTokenAge... Required without issuer."},
		{Key: "authRequestOptionalConfig", Label: "Auth Request Optional Config", Type: sdk.FormJSON,
			Description: "responseMode, display, prompt, maxAge, uiLocales, idTokenHint, loginHint, acrValues."},
		{Key: "customConfig", Label: "Custom Config", Type: sdk.FormJSON, DefaultValue: map[string]string{},
			Description: "Extra parameters for the authorization URL and the token requests, sent as written."},
		{Key: "profileMap", Label: "Profile Map", Type: sdk.FormJSON, Description: "Accepted for Logto compatibility; claims map by their standard names."},
		{Key: "pkce", Label: "PKCE", Type: sdk.FormSelect, SelectItems: oauth2kit.SelectItems("S256", "none"), DefaultValue: "S256"},
		{Key: "minKeyRefreshInterval", Label: "Minimum Key Refresh Interval", Type: sdk.FormText, DefaultValue: defaultMinKeyRefresh.String(),
			Description: "The floor between two fetches of the keys forced by an unknown key id."},
		{Key: "endpointHosts", Label: "Endpoint Hosts", Type: sdk.FormJSON, Placeholder: `["oauth2.googleapis.com"]`,
			Description: "Hosts besides the issuer's that discovered endpoints may be on (the presets fill in their provider's)."},
		{Key: "requestTimeout", Label: "Request Timeout", Type: sdk.FormText, DefaultValue: defaultRequestTimeout.String(), Description: "At most 9s."},
		{Key: "caCertificates", Label: "Extra CA Certificates", Type: sdk.FormMultilineText, Placeholder: "-----BEGIN CERTIFICATE-----"},
		{Key: "userAgent", Label: "User-Agent", Type: sdk.FormText, Placeholder: "idplug-oidc/<version>"},
		{Key: "storeTokens", Label: "Store Tokens", Type: sdk.FormSwitch, DefaultValue: false,
			Description: "Return the provider's tokens with the profile."},
	}
}
