package oidcconnector

// Version names this build in the default User-Agent. The plugin's main sets it from
// its own build before serving.
var Version = "dev"

func defaultUserAgent() string { return "idplug-oidc/" + Version }
