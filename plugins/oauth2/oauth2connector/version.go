package oauth2connector

// Version names this build in the default User-Agent. The plugin's main sets it from
// its own build before serving.
var Version = "dev"

// defaultUserAgent names the connector to providers, some of which (GitHub's API)
// refuse requests without a User-Agent.
func defaultUserAgent() string { return "idplug-oauth2/" + Version }
