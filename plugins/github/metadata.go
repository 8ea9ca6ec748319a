package main

import (
	_ "embed"
	"encoding/base64"

	"github.com/idplug/idplug/sdk"
)

// The operator documentation and the logos are files beside the code.
var (
	//go:embed README.md
	readme string
	//go:embed logo.svg
	logo []byte
	//go:embed logo-dark.svg
	logoDark []byte
)

func metadata() sdk.Metadata {
	return sdk.Metadata{
		ID:       "github",
		Target:   "github",
		Platform: sdk.PlatformUniversal,
		Name:     sdk.I18n{"en": "GitHub", "zh-CN": "GitHub", "ja": "GitHub", "fr": "GitHub"},
		Description: sdk.I18n{
			"en":    "Sign in with GitHub or GitHub Enterprise Server.",
			"zh-CN": "使用 GitHub 或 GitHub Enterprise Server 登录。",
			"ja":    "GitHub または GitHub Enterprise Server でサインインします。",
			"fr":    "Connexion avec GitHub ou GitHub Enterprise Server.",
		},
		Logo:           svgDataURL(logo),
		LogoDark:       svgDataURL(logoDark),
		Readme:         readme,
		IsStandard:     false,
		FormItems:      formItems,
		ConfigTemplate: `{"clientId": "<client-id>", "clientSecret": "<client-secret>", "scope": "read:user user:email"}`,
		// github.com's token endpoint and REST API, which a config for
		// github.com need not name (a GitHub Enterprise Server config names its
		// own URLs).
		EgressHosts: []string{"github.com", "api.github.com"},
	}
}

func svgDataURL(svg []byte) string {
	return "data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString(svg)
}

var formItems = []sdk.FormItem{
	{Key: "clientId", Label: "Client ID", Type: sdk.FormText, Required: true, Placeholder: "<client-id>",
		Description: "The Client ID of your GitHub OAuth app or GitHub App."},
	{Key: "clientSecret", Label: "Client Secret", Type: sdk.FormText, Required: true, Confidential: true, Placeholder: "<client-secret>"},
	{Key: "scope", Label: "Scope", Type: sdk.FormText, Placeholder: defaultScope,
		Description: "Space-separated OAuth scopes; read:user user:email when empty. Without user:email, users who keep their address private have no email."},
	{Key: "baseUrl", Label: "GitHub URL", Type: sdk.FormText, Placeholder: defaultBaseURL,
		Description: "For GitHub Enterprise Server: https://github.example.com."},
	{Key: "apiUrl", Label: "API URL", Type: sdk.FormText, Placeholder: defaultAPIURL,
		Description: "api.github.com for github.com, {GitHub URL}/api/v3 otherwise; set it only when yours differs."},
	{Key: "caCertificates", Label: "Extra CA Certificates", Type: sdk.FormMultilineText, Placeholder: "-----BEGIN CERTIFICATE-----",
		Description: "PEM certificates to trust besides the system's, for a GitHub Enterprise Server with a private CA."},
	{Key: "storeTokens", Label: "Store Tokens", Type: sdk.FormSwitch, DefaultValue: false,
		Description: "Return GitHub's tokens with the profile, for calling its API later."},
	{Key: "organizations", Label: "Organizations", Type: sdk.FormSwitch, DefaultValue: false,
		Description: "List the user's organizations in the raw data (raw.organizations), for mappings that admit or label users by organization; read:org is added to the default scope."},
}
