package oidcconnector

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"

	"github.com/idplug/idplug/sdk"
	"github.com/idplug/idplug/sdk/oauth2kit"
)

// Where discovery may send the connector. A discovery document names the URLs
// the client secret and the authorization code go to: one that a provider (or
// whoever answers for it) fills with another host would receive them. So each
// discovered endpoint must be https (http only on a loopback address, for a
// provider on this machine) and on the issuer's origin, or on a host the
// configuration names in endpointHosts (Google's token endpoint is on
// oauth2.googleapis.com, not accounts.google.com).

// Hosts the presets' providers publish endpoints on, besides their issuer's.
var presetEndpointHosts = map[string][]string{
	providerGoogle:    {"oauth2.googleapis.com", "openidconnect.googleapis.com", "www.googleapis.com"},
	providerMicrosoft: {"graph.microsoft.com"},
}

// hostPort is u's host with its port, the scheme's default made explicit.
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	if u.Scheme == "http" {
		return net.JoinHostPort(u.Hostname(), "80")
	}
	return net.JoinHostPort(u.Hostname(), "443")
}

// checkEndpointHosts checks and normalizes endpointHosts: host names, with a
// port when it is not 443.
func checkEndpointHosts(hosts []string, p *sdk.ConfigError) []string {
	out := make([]string, 0, len(hosts))
	for i, h := range hosts {
		u, err := url.Parse("https://" + h)
		if h == "" || err != nil || u.Host != h || u.Hostname() == "" || strings.ContainsAny(h, "/?#@") {
			p.Add(fmt.Sprintf("endpointHosts[%d]", i), "must be a host name like oauth2.googleapis.com, with :port when it is not 443")
			continue
		}
		out = append(out, strings.ToLower(hostPort(u)))
	}
	return out
}

// checkDiscoveredEndpoint applies the rules above to one endpoint of the
// document of issuer.
func checkDiscoveredEndpoint(field, raw, issuer string, hosts []string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return sdk.Errorf(sdk.CodeInvalidResponse, "the discovery document's %s is not a URL", field)
	}
	if err := oauth2kit.CheckSecureURL(raw); err != nil {
		return sdk.Errorf(sdk.CodeInvalidResponse, "the discovery document's %s %v", field, err)
	}
	iu, err := url.Parse(issuer)
	if err == nil && strings.EqualFold(u.Scheme, iu.Scheme) && strings.EqualFold(hostPort(u), hostPort(iu)) {
		return nil
	}
	if slices.Contains(hosts, strings.ToLower(hostPort(u))) {
		return nil
	}
	return sdk.Errorf(sdk.CodeInvalidResponse, "the discovery document's %s is on %s, not on the issuer's origin: "+
		"if the provider really serves it there, name that host in endpointHosts", field, clean(u.Host)).
		WithDetail("endpoint", field)
}
