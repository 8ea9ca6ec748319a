package main

// providerHosts are the hosts each of Logto's connectors reaches that no
// configuration names (their endpoints are fixed in the npm code): declared in
// the plugin's metadata, so that idplug's egress proxy lets the connector reach
// them and operators see them in idplug plugins (and may narrow them with
// sandbox.egress_allow). A connector whose endpoints are in its configuration
// (@logto/connector-oauth) needs none.
var providerHosts = map[string][]string{
	"@logto/connector-apple":      {"appleid.apple.com"},
	"@logto/connector-azuread":    {"login.microsoftonline.com", "graph.microsoft.com"},
	"@logto/connector-discord":    {"discord.com"},
	"@logto/connector-facebook":   {"graph.facebook.com"},
	"@logto/connector-github":     {"github.com", "api.github.com"},
	"@logto/connector-google":     {"accounts.google.com", "oauth2.googleapis.com", "openidconnect.googleapis.com", "www.googleapis.com"},
	"@logto/connector-wechat-web": {"api.weixin.qq.com"},
}
