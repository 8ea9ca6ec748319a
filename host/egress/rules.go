// Package egress is the host's side of a plugin's network: an HTTP CONNECT proxy
// on a Unix socket in the plugin's socket folder, the only way out for a plugin
// that the sandbox gives no network of its own. It lets a plugin reach the
// hosts its instances' configurations name, hosts on the same site as those
// (what a provider's discovery document points to), and the hosts the plugin
// declares in its metadata (narrowed by the operator); it refuses loopback,
// private and link-local addresses, and this machine's own, unless a
// configuration names that host, checks the address it dials rather than the
// name (a name that resolves elsewhere on the second lookup changes nothing),
// and never lets a plugin reach idplug's own listeners.
package egress

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// Rules are what one plugin may reach, as "host:port" (lower case).
type Rules struct {
	// Named are the hosts its instances' configurations name; they may be on
	// loopback or private addresses (a provider on the same machine or network).
	Named []string
	// Declared are the hosts its metadata declares (after sandbox.egress_allow);
	// public addresses only, none of this machine's.
	Declared []string
	// SameSiteOff turns off the same-site rule (Match): for a plugin whose
	// egress the operator narrowed (sandbox.egress_allow), what it reaches
	// beyond its configurations' hosts is what the operator listed, and no
	// host a list of tenant platforms may have missed.
	SameSiteOff bool
}

// Target is one request: where the plugin asked to go and what allows it.
type Target struct {
	Host string
	Port int
	// PrivateOK is true when a configuration names the host itself: it may
	// then be on a special address or this machine's.
	PrivateOK bool
}

// Refusal is why a request was refused; Reason is the metrics label.
type Refusal struct {
	Reason string
	Detail string
}

func (r *Refusal) Error() string { return r.Detail }

// The refusal reasons, the values of the metric's reason label.
const (
	ReasonNotNamed     = "not_named"
	ReasonPrivate      = "private_address"
	ReasonHostListener = "host_listener"
	ReasonBadRequest   = "bad_request"
)

// Match decides whether hostport may be reached under r, before resolving it.
func (r Rules) Match(hostport string) (Target, error) {
	host, port, err := SplitHostPort(hostport, 0)
	if err != nil {
		return Target{}, &Refusal{ReasonBadRequest, err.Error()}
	}
	t := Target{Host: host, Port: port}
	key := JoinHostPort(host, port)
	switch {
	case slices.Contains(r.Named, key):
		t.PrivateOK = true
		return t, nil
	case slices.Contains(r.Declared, key):
		return t, nil
	}
	// What a discovery document points to on the provider's own site (the
	// issuer's registrable domain), over https.
	if site := siteOf(host); site != "" && port == 443 && !tenantSites[site] && !r.SameSiteOff {
		for _, n := range r.Named {
			if h, p, _ := SplitHostPort(n, 0); p == 443 && siteOf(h) == site {
				return t, nil
			}
		}
	}
	return Target{}, &Refusal{ReasonNotNamed, fmt.Sprintf("%s is named by no configuration of this plugin nor declared in its metadata", key)}
}

// tenantSites are platforms that give each customer a host of their own
// under one registrable domain (myorg.okta.com) and are not in the public
// suffix list: another host of such a site is another customer's tenant, where
// a hostile plugin could send what it holds. Their discovery documents name
// the tenant's own host, so nothing the same-site rule is for needs them. No
// such list is ever complete: an operator who must be sure narrows the
// plugin's egress (sandbox.egress_allow), which turns the rule off.
var tenantSites = map[string]bool{
	"okta.com": true, "oktapreview.com": true, "okta-emea.com": true, "okta-gov.com": true,
	"auth0.com": true, "onelogin.com": true, "kinde.com": true, "b2clogin.com": true,
	"ciamlogin.com": true, "fusionauth.io": true, "logto.app": true, "zitadel.cloud": true,
	"accounts.dev": true, "authgear.cloud": true, "frontegg.com": true, "descope.com": true,
	"stytch.com": true, "cloudflareaccess.com": true, "cyberark.cloud": true,
	"jumpcloud.com": true, "pingone.com": true, "salesforce.com": true, "force.com": true,
	// Hosted Ory, Authing, WorkOS AuthKit, Keycloak hosting, Authress, Casdoor,
	// SailPoint, CyberArk Identity, Duo, Oracle's identity domains, cidaas,
	// Appwrite, Nhost, PropelAuth, Wristband, Scalekit, Userfront, Passage,
	// Hanko, MojoAuth, miniOrange, GitHub Enterprise Cloud with data
	// residency, Atlassian and Zendesk sites.
	"oryapis.com": true, "authing.cn": true, "authkit.app": true, "cloud-iam.com": true,
	"keycloak.cloud": true, "authress.io": true, "casdoor.com": true, "identitynow.com": true,
	"idaptive.app": true, "duosecurity.com": true, "oraclecloud.com": true, "cidaas.de": true,
	"cidaas.eu": true, "appwrite.io": true, "nhost.run": true, "propelauth.com": true,
	"wristband.dev": true, "scalekit.com": true, "userfront.com": true, "passage.id": true,
	"hanko.io": true, "mojoauth.com": true, "xecurify.com": true, "miniorange.com": true,
	"ghe.com": true, "atlassian.net": true, "zendesk.com": true,
}

// siteOf is the registrable domain of a DNS name ("example.co.uk" for
// "login.example.co.uk"), "" for an address or a name without one.
func siteOf(host string) string {
	if _, err := netip.ParseAddr(host); err == nil || !strings.Contains(host, ".") {
		return ""
	}
	site, err := publicsuffix.EffectiveTLDPlusOne(host)
	if err != nil {
		return ""
	}
	return site
}

// SplitHostPort reads "host:port" or, when defaultPort is not zero, "host";
// the host comes back in lower case without a trailing dot.
func SplitHostPort(s string, defaultPort int) (string, int, error) {
	host, portText, err := net.SplitHostPort(s)
	if err != nil {
		if defaultPort == 0 || strings.Contains(s, "/") {
			return "", 0, fmt.Errorf("%q is not host:port", s)
		}
		host, portText = strings.Trim(s, "[]"), strconv.Itoa(defaultPort)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("%q: the port must be a number from 1 to 65535", s)
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "" || strings.ContainsAny(host, "/*@?# ") {
		return "", 0, fmt.Errorf("%q is not a host name or address", s)
	}
	return host, port, nil
}

// JoinHostPort is net.JoinHostPort with a numeric port.
func JoinHostPort(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }

// ConfigHosts lists the hosts an instance configuration names: every string in
// it that is an absolute http or https URL, as "host:port".
func ConfigHosts(raw []byte) []string {
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil
	}
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		case string:
			if hp := urlHost(v); hp != "" {
				out = append(out, hp)
			}
		}
	}
	walk(doc)
	slices.Sort(out)
	return slices.Compact(out)
}

// urlHost is host:port of an absolute http(s) URL, or "".
func urlHost(s string) string {
	if !strings.HasPrefix(s, "http://") && !strings.HasPrefix(s, "https://") {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || u.Hostname() == "" {
		return ""
	}
	port := 443
	if u.Scheme == "http" {
		port = 80
	}
	host, p, err := SplitHostPort(u.Host, port)
	if err != nil {
		return ""
	}
	return JoinHostPort(host, p)
}

// DeclaredHosts reads a plugin's metadata EgressHosts ("host" meaning port
// 443) as "host:port", keeping only those allow lets through when allow is not
// nil (sandbox.egress_allow names the plugin).
func DeclaredHosts(declared []string, allow []string) []string {
	var allowed []string
	for _, a := range allow {
		if h, p, err := SplitHostPort(a, 443); err == nil {
			allowed = append(allowed, JoinHostPort(h, p))
		}
	}
	var out []string
	for _, d := range declared {
		h, p, err := SplitHostPort(d, 443)
		if err != nil {
			continue
		}
		hp := JoinHostPort(h, p)
		if allow == nil || slices.Contains(allowed, hp) {
			out = append(out, hp)
		}
	}
	return out
}
