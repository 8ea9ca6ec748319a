package config

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/idplug/idplug/host/config/internal/walk"
	"go.yaml.in/yaml/v3"
)

// OpenID Provider settings: idplug as an OpenID Provider in front of its
// connectors, for apps and identity servers that speak OpenID Connect.
const (
	DefaultAccessTokenTTL  = 10 * time.Minute
	MaxAccessTokenTTL      = 24 * time.Hour
	DefaultRefreshTokenTTL = 30 * 24 * time.Hour
	MaxRefreshTokenTTL     = 365 * 24 * time.Hour
	MaxGrantTTL            = 10 * 365 * 24 * time.Hour
	DefaultSSOTTL          = 8 * time.Hour
	MaxSSOTTL              = 30 * 24 * time.Hour
	// MinClientSecretLen is the shortest client secret accepted, in bytes.
	MinClientSecretLen = 32
	// maxClientJWKS bounds a client's inline key set.
	maxClientJWKS = 64 << 10
)

// Client authentication methods at the token endpoint (OpenID Connect
// Dynamic Client Registration's names).
const (
	AuthSecretBasic   = "client_secret_basic"
	AuthSecretPost    = "client_secret_post"
	AuthPrivateKeyJWT = "private_key_jwt"
	AuthNone          = "none"
)

var (
	providerKeys   = []string{"issuer", "access_token_ttl", "refresh_token_ttl", "grant_ttl", "sso_ttl", "clients"}
	clientKeys     = []string{"id", "secret", "public", "redirect_uris", "post_logout_redirect_uris", "connectors", "token_endpoint_auth_method", "jwks", "id_token_signed_response_alg"}
	clientAuths    = []string{AuthSecretBasic, AuthSecretPost, AuthPrivateKeyJWT}
	idTokenAlgs    = []string{"RS256", "ES256"}
	clientIDRE     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._~-]{0,127}$`)
	maxClientURIs  = 32
	maxClientNames = 1024
)

// Provider is the provider section; nil in Config when it is absent (idplug is
// then no OpenID Provider).
type Provider struct {
	// Issuer is the provider's issuer URL, under PublicURL ({public_url}/oidc by
	// default, so SDKs that derive the issuer from an endpoint find it).
	Issuer string
	// IssuerPath is Issuer's path below PublicURL's, like /oidc.
	IssuerPath string
	// AccessTokenTTL is how long an access token (and an ID token) is good for.
	AccessTokenTTL time.Duration
	// RefreshTokenTTL is a refresh token's life: a grant unused this long (or
	// AccessTokenTTL, when longer) ends; each refresh extends it.
	RefreshTokenTTL time.Duration
	// GrantTTL, when set, ends a grant this long after its sign-in, however
	// often it was refreshed since: the person signs in again (and the
	// connector's provider is asked again). 0: refreshes keep it going.
	GrantTTL time.Duration
	// SSOTTL is how long a browser's sign-in serves further clients without a
	// new trip to the provider.
	SSOTTL time.Duration
	// Clients are the apps allowed to sign in, in file order.
	Clients []Client
}

// Client is one app registered with the provider.
type Client struct {
	ID string
	// Secret authenticates a confidential client; empty for public clients and
	// for private_key_jwt.
	Secret string
	// Public clients (a browser or native app) hold no secret and must use PKCE.
	Public bool
	// RedirectURIs are matched exactly.
	RedirectURIs []string
	// PostLogoutRedirectURIs are matched exactly.
	PostLogoutRedirectURIs []string
	// Connectors are the instance ids this client may sign in with; empty means all.
	Connectors []string
	// AuthMethod is how the client authenticates at the token endpoint
	// (AuthSecretBasic by default; AuthNone for public clients).
	AuthMethod string
	// JWKS is the client's public key set (JSON), for private_key_jwt.
	JWKS json.RawMessage
	// IDTokenAlg signs the client's ID tokens: RS256 (the default) or ES256.
	IDTokenAlg string
}

// AllowsConnector reports whether the client may sign in with instance id.
func (c Client) AllowsConnector(id string) bool {
	return len(c.Connectors) == 0 || slices.Contains(c.Connectors, id)
}

// String names the client without its secret.
func (c Client) String() string { return "client " + c.ID }

// provider decodes the provider section. It runs after the instances are
// decoded, so a client's connectors can be checked against them.
func (d *decoder) provider(cfg *Config, fs walk.Fields) {
	e, ok, at := fs.At("provider")
	if !ok {
		return
	}
	v := walk.Deref(e.Value)
	if v.Kind != yaml.MappingNode {
		d.ps.Add(at.Path, at.Pos, "must be a mapping, like {clients: [...]}")
		return
	}
	pfs := d.Known(v, at.Path, providerKeys)
	pfs.Pos = walk.PosOf(v)
	p := &Provider{}
	d.issuer(p, cfg.PublicURL, pfs)
	p.AccessTokenTTL = d.duration(pfs, "access_token_ttl", DefaultAccessTokenTTL, time.Minute, MaxAccessTokenTTL)
	p.RefreshTokenTTL = d.duration(pfs, "refresh_token_ttl", DefaultRefreshTokenTTL, time.Minute, MaxRefreshTokenTTL)
	p.GrantTTL = d.duration(pfs, "grant_ttl", 0, time.Minute, MaxGrantTTL)
	p.SSOTTL = d.duration(pfs, "sso_ttl", DefaultSSOTTL, time.Minute, MaxSSOTTL)
	p.Clients = d.clients(pfs, cfg.Instances)
	if !cfg.Store.Enabled() {
		d.ps.Add(at.Path, at.Pos, "needs a store (codes are single-use and refresh tokens rotate across replicas): remove store: {url: off}")
	}
	cfg.Provider = p
}

// issuer decodes the issuer: a URL under public_url, so that idplug serves its
// endpoints there.
func (d *decoder) issuer(p *Provider, publicURL string, pfs walk.Fields) {
	s, set, at := pfs.Text("issuer")
	if !set {
		s = publicURL + "/oidc"
	}
	s = strings.TrimRight(s, "/")
	base := publicURL + "/"
	u, err := url.Parse(s)
	switch {
	case publicURL == "":
		return // public_url's own problem is reported
	case err != nil || u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(s, "?#"):
		d.ps.Add(at.Path, at.Pos, "%q must be a URL without a query or fragment", shownURL(s))
	case !strings.HasPrefix(s, base) || len(s) == len(base):
		d.ps.Add(at.Path, at.Pos, "%q must be a path under public_url (%s), like %s/oidc", shownURL(s), publicURL, publicURL)
	case strings.Contains(s[len(base):], "//") || strings.Contains("/"+s[len(base):]+"/", "/../") || strings.Contains("/"+s[len(base):]+"/", "/./"):
		d.ps.Add(at.Path, at.Pos, "%q must be a clean path under public_url", shownURL(s))
	case slices.Contains(reservedPaths, strings.SplitN(s[len(base):], "/", 2)[0]):
		d.ps.Add(at.Path, at.Pos, "%q would hide idplug's own /%s routes; choose another path, like %s/oidc", shownURL(s), strings.SplitN(s[len(base):], "/", 2)[0], publicURL)
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		// Over plain http the browser's cookies carry no __Host- prefix: a
		// sibling host could plant a session or a request's browser mark,
		// and anyone on the way reads them, the codes and the tokens.
		d.ps.Add(at.Path, at.Pos, "%q must be https (http only on a loopback address): set public_url to the https address browsers and apps reach idplug at, behind a TLS proxy if need be", shownURL(s))
	default:
		p.Issuer = s
		p.IssuerPath = "/" + s[len(base):]
	}
}

// reservedPaths are the first path segments of idplug's own routes below
// public_url, which an issuer's path must not take over.
var reservedPaths = []string{"v1", "sign-in", "sign-out", "callback", "user", "healthz", "readyz", "metrics"}

func (d *decoder) clients(pfs walk.Fields, instances []Instance) []Client {
	e, ok, at := pfs.At("clients")
	if !ok {
		d.ps.Add(at.Path, at.Pos, "is required: at least one client")
		return nil
	}
	seq := walk.Deref(e.Value)
	if seq.Kind != yaml.SequenceNode {
		d.ps.Add(at.Path, at.Pos, "must be a list of clients")
		return nil
	}
	if len(seq.Content) == 0 {
		d.ps.Add(at.Path, at.Pos, "is required: at least one client")
	}
	known := map[string]bool{}
	for _, in := range instances {
		known[in.ID] = true
	}
	var out []Client
	ids := map[string]int{}
	for i, n := range d.Items(seq, at.Path, at.Pos) {
		path := at.Path.Item(i)
		if walk.Deref(n).Kind != yaml.MappingNode {
			d.ps.Add(path, walk.PosOf(n), "must be a mapping with at least id and redirect_uris")
			continue
		}
		cfs := d.Known(n, path, clientKeys) // an alias's problems point at it
		cfs.Pos = walk.PosOf(n)
		c := d.client(cfs, known)
		if c.ID != "" {
			if first, dup := ids[c.ID]; dup {
				_, _, idAt := cfs.Text("id")
				d.ps.Add(idAt.Path, idAt.Pos, "%q is already the id of clients[%d]", c.ID, first)
			}
			ids[c.ID] = i
		}
		out = append(out, c)
	}
	return out
}

func (d *decoder) client(cfs walk.Fields, known map[string]bool) Client {
	var c Client
	id, set, idAt := cfs.Text("id")
	switch {
	case !set:
		d.ps.Add(idAt.Path, idAt.Pos, "is required")
	case !clientIDRE.MatchString(id):
		d.ps.Add(idAt.Path, idAt.Pos, "%q must be 1 to 128 letters, digits and . _ ~ - (not starting with a symbol)", id)
	}
	c.ID = id
	if s, set, at := cfs.Text("public"); set {
		switch s {
		case "true":
			c.Public = true
		case "false":
		default:
			d.ps.Add(at.Path, at.Pos, "must be true or false")
		}
	}
	secret, secretSet, secretAt := cfs.Text("secret")
	c.Secret = secret
	method, methodSet, methodAt := cfs.Text("token_endpoint_auth_method")
	c.AuthMethod = AuthSecretBasic
	switch {
	case c.Public:
		if methodSet && method != AuthNone {
			d.ps.Add(methodAt.Path, methodAt.Pos, "a public client authenticates with none (and PKCE), not %q", method)
		}
		c.AuthMethod = AuthNone
	case methodSet && !slices.Contains(clientAuths, method):
		d.ps.Add(methodAt.Path, methodAt.Pos, "%q must be one of %s (none is for public: true)", method, strings.Join(clientAuths, ", "))
	case methodSet:
		c.AuthMethod = method
	}
	switch {
	case c.Public && secretSet:
		d.ps.Add(secretAt.Path, secretAt.Pos, "a public client has no secret: anyone can read it out of the app")
	case c.AuthMethod == AuthPrivateKeyJWT && secretSet:
		d.ps.Add(secretAt.Path, secretAt.Pos, "a private_key_jwt client authenticates with its key, not a secret")
	case c.AuthMethod == AuthSecretBasic || c.AuthMethod == AuthSecretPost:
		// Say how long, never what it is.
		if !secretSet || len(secret) < MinClientSecretLen {
			d.ps.Add(secretAt.Path, secretAt.Pos, "is required: %d bytes or more for a confidential client (openssl rand -base64 32 makes one), or set public: true", MinClientSecretLen)
		}
	}
	c.JWKS = d.clientJWKS(cfs, c.AuthMethod == AuthPrivateKeyJWT)
	c.IDTokenAlg = d.enum(cfs, "id_token_signed_response_alg", "RS256", idTokenAlgs)
	items, empty, at := cfs.List("redirect_uris")
	if empty {
		d.ps.Add(at.Path, at.Pos, "is required: the exact URLs the app receives codes at")
	}
	c.RedirectURIs = d.clientURIs(items, c.Public)
	items, _, _ = cfs.List("post_logout_redirect_uris")
	c.PostLogoutRedirectURIs = d.clientURIs(items, c.Public)
	d.refuseEmpty(cfs, "connectors", "leave it out for every connector, or name them")
	items, empty, at = cfs.List("connectors")
	if _, set, _ := cfs.At("connectors"); set && empty {
		d.ps.Add(at.Path, at.Pos, "must name at least one connector; leave it out for every connector")
	}
	if len(items) > maxClientNames {
		d.ps.Add(at.Path, at.Pos, "lists more than %d connectors", maxClientNames)
	}
	for _, it := range items {
		if !known[it.Value] {
			d.ps.Add(it.At.Path, it.At.Pos, "%q is no connector instance of this file", it.Value)
			continue
		}
		c.Connectors = append(c.Connectors, it.Value)
	}
	return c
}

// assertionAlgs is the algorithm of a client assertion for each kty: the
// provider takes RS256 and ES256 only, as its discovery says, so any other
// key would fail every assertion.
var assertionAlgs = map[string]string{"RSA": "RS256", "EC": "ES256"}

// clientJWKS decodes jwks: a JSON key set, inline or through ${file:...}.
func (d *decoder) clientJWKS(cfs walk.Fields, required bool) json.RawMessage {
	s, set, at := cfs.Text("jwks")
	switch {
	case !set && required:
		d.ps.Add(at.Path, at.Pos, `is required for private_key_jwt: the client's public keys, like '{"keys": [...]}' or ${file:client.jwks}`)
		return nil
	case !set:
		return nil
	case !required:
		d.ps.Add(at.Path, at.Pos, "is only for token_endpoint_auth_method: private_key_jwt")
		return nil
	case len(s) > maxClientJWKS:
		d.ps.Add(at.Path, at.Pos, "is more than %d bytes", maxClientJWKS)
		return nil
	}
	var set2 struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal([]byte(s), &set2); err != nil || len(set2.Keys) == 0 {
		d.ps.Add(at.Path, at.Pos, `must be a JSON key set with at least one key, like {"keys": [{"kty": "EC", ...}]}`)
		return nil
	}
	good := true
	for i, raw := range set2.Keys {
		// Never quoted: a key written by mistake may be a private one.
		var k struct {
			Kty string `json:"kty"`
			Alg string `json:"alg"`
			Crv string `json:"crv"`
			D   string `json:"d"`
		}
		if json.Unmarshal(raw, &k) != nil {
			d.ps.Add(at.Path, at.Pos, "keys[%d] is not a JSON object", i)
			good = false
			continue
		}
		switch {
		case k.Kty == "OKP":
			d.ps.Add(at.Path, at.Pos, "keys[%d]: kty OKP (EdDSA) is not supported: the client signs its assertions with RS256 (kty RSA) or ES256 (kty EC, crv P-256)", i)
			good = false
		case assertionAlgs[k.Kty] == "":
			d.ps.Add(at.Path, at.Pos, "keys[%d]: private_key_jwt needs the client's public keys (kty RSA or EC), not kty %q", i, walk.ShowKey(k.Kty))
			good = false
		case k.D != "":
			d.ps.Add(at.Path, at.Pos, "keys[%d] holds a private key: give the client's public key only (the private one stays with the client)", i)
			good = false
		case k.Kty == "EC" && k.Crv != "P-256":
			d.ps.Add(at.Path, at.Pos, "keys[%d]: crv %q is not supported: the client signs its assertions with ES256 (crv P-256)", i, walk.ShowKey(k.Crv))
			good = false
		case k.Alg != "" && k.Alg != assertionAlgs[k.Kty]:
			d.ps.Add(at.Path, at.Pos, "keys[%d]: alg %q is not supported for kty %s: the client signs its assertions with RS256 (kty RSA) or ES256 (kty EC)", i, walk.ShowKey(k.Alg), k.Kty)
			good = false
		}
	}
	if !good {
		return nil
	}
	return json.RawMessage(s)
}

// clientURIs checks redirect URIs: absolute, without a fragment, https, or
// http on a loopback address; a public (native) client may also use a
// private-use scheme (RFC 8252 7.1), never javascript: or data:.
func (d *decoder) clientURIs(items []walk.Item, public bool) []string {
	if len(items) > maxClientURIs {
		d.ps.Add(items[0].At.Path, items[0].At.Pos, "lists more than %d URLs", maxClientURIs)
		items = items[:maxClientURIs]
	}
	var out []string
	for _, it := range items {
		if msg := checkRedirectURI(it.Value, public); msg != "" {
			d.ps.Add(it.At.Path, it.At.Pos, "%s", msg)
			continue
		}
		out = append(out, it.Value)
	}
	return out
}

func checkRedirectURI(s string, public bool) string {
	u, err := url.Parse(s)
	shown := shownURL(s)
	switch {
	case strings.TrimSpace(s) != s:
		return fmt.Sprintf("%q has spaces around it", shown)
	case err != nil || u.Scheme == "" || len(s) > 2048:
		return fmt.Sprintf("%q must be an absolute URL", shown)
	case u.Fragment != "" || strings.ContainsRune(s, '#'):
		return fmt.Sprintf("%q must not have a fragment", shown)
	case u.User != nil:
		return fmt.Sprintf("%q must not contain a user name or password", shown)
	case strings.Contains(u.Host, "*"):
		return fmt.Sprintf("%q: a redirect URI is matched exactly; wildcards are not supported, list each URL", shown)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Sprintf("%q has port %s, not one from 1 to 65535", shown, p)
		}
	}
	switch scheme := strings.ToLower(u.Scheme); scheme {
	case "https":
		if u.Host == "" {
			return fmt.Sprintf("%q has no host", shown)
		}
	case "http":
		if ip := net.ParseIP(u.Hostname()); (ip == nil || !ip.IsLoopback()) && u.Hostname() != "localhost" {
			return fmt.Sprintf("%q must be https (http only on a loopback address)", shown)
		}
	case "javascript", "data", "vbscript", "file":
		return fmt.Sprintf("%q: the %s scheme is never a redirect URI", shown, scheme)
	default:
		if !public || !strings.Contains(scheme, ".") {
			return fmt.Sprintf("%q must be https; only a public (native) client may use a private-use scheme, and it must be a reversed domain name like com.example.app:/callback", shown)
		}
	}
	return ""
}
