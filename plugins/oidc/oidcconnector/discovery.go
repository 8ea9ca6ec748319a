package oidcconnector

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/idplug/idplug/sdk"
	"github.com/idplug/idplug/sdk/oauth2kit"
)

const (
	// discoveryPath is where an OpenID Provider publishes its metadata (OIDC
	// Discovery 1.0 section 4).
	discoveryPath = "/.well-known/openid-configuration"
	// defaultMetadataTTL keeps discovery documents and JWK sets whose provider gave
	// no Cache-Control max-age; minMetadataTTL and maxMetadataTTL bound what it gave,
	// and one it asked not to be kept (max-age=0, no-store, no-cache) gets the least.
	defaultMetadataTTL = time.Hour
	minMetadataTTL     = time.Minute
	maxMetadataTTL     = 24 * time.Hour
	// retryAfterFailure is how long a cached document or key set serves, without
	// another fetch, once a fetch for it failed: a provider that hangs would
	// otherwise hold every sign-in in a queue of fetches, one deadline each.
	retryAfterFailure = time.Minute
	// retryUncachedAfterFailure is how long a failed fetch with nothing cached is
	// answered again, without another fetch: each sign-in would otherwise wait
	// out its own fetch of a provider that hangs. Shorter, since every sign-in
	// fails meanwhile.
	retryUncachedAfterFailure = 10 * time.Second
	// maxKeys bounds a JWK set: a token without a kid is tried against every
	// key, and a hostile set of thousands of P-521 keys costs seconds of CPU a
	// token. Providers publish a handful.
	maxKeys = 64
)

// endpoints is what a sign-in needs to know of the provider.
type endpoints struct {
	// Issuer is the discovered issuer; empty for a configuration without discovery.
	Issuer        string
	Authorization string
	Token         string
	UserInfo      string
	JWKS          string
	// Algorithms are the provider's id_token_signing_alg_values_supported.
	Algorithms []string
	// IssParameter: the provider sends iss with every authorization response (RFC 9207).
	IssParameter bool
}

// discoveryDocument is the part of the provider's metadata the connector reads.
type discoveryDocument struct {
	Issuer                string   `json:"issuer"`
	AuthorizationEndpoint string   `json:"authorization_endpoint"`
	TokenEndpoint         string   `json:"token_endpoint"`
	UserinfoEndpoint      string   `json:"userinfo_endpoint"`
	JWKSURI               string   `json:"jwks_uri"`
	IDTokenAlgs           []string `json:"id_token_signing_alg_values_supported"`
	IssParameterSupported bool     `json:"authorization_response_iss_parameter_supported"`
}

// parseDiscovery reads a discovery document and checks it against the configured
// issuer: its issuer must be exactly that one (OIDC Discovery 1.0 section 4.3), or,
// for Microsoft's multi-tenant endpoints, the "{tenantid}" template for it; and
// its endpoints must be where the issuer's are (checkDiscoveredEndpoint), or on
// one of hosts.
func parseDiscovery(body []byte, issuer string, hosts []string, tenantAlias bool) (*endpoints, error) {
	var d discoveryDocument
	if err := json.Unmarshal(body, &d); err != nil {
		return nil, sdk.Errorf(sdk.CodeInvalidResponse, "the discovery document is not valid: %v", err)
	}
	if d.Issuer != issuer && !(tenantAlias && (tenantTemplateMatches(d.Issuer, issuer) || tenantAliasMatches(d.Issuer, issuer))) {
		return nil, sdk.Errorf(sdk.CodeInvalidResponse, "the discovery document names issuer %q, not the configured %q (OIDC Discovery section 4.3)", clean(d.Issuer), issuer).
			WithDetail("issuer", clean(d.Issuer))
	}
	for _, f := range []struct{ name, value string }{
		{"authorization_endpoint", d.AuthorizationEndpoint},
		{"token_endpoint", d.TokenEndpoint},
		{"jwks_uri", d.JWKSURI},
	} {
		if f.value == "" {
			return nil, sdk.Errorf(sdk.CodeInvalidResponse, "the discovery document has no %s", f.name)
		}
		if err := oauth2kit.CheckHTTPURL(f.value); err != nil {
			return nil, sdk.Errorf(sdk.CodeInvalidResponse, "the discovery document's %s %v", f.name, err)
		}
		if err := checkDiscoveredEndpoint(f.name, f.value, issuer, hosts); err != nil {
			return nil, err
		}
	}
	if d.UserinfoEndpoint != "" {
		if err := oauth2kit.CheckHTTPURL(d.UserinfoEndpoint); err != nil {
			return nil, sdk.Errorf(sdk.CodeInvalidResponse, "the discovery document's userinfo_endpoint %v", err)
		}
		if err := checkDiscoveredEndpoint("userinfo_endpoint", d.UserinfoEndpoint, issuer, hosts); err != nil {
			return nil, err
		}
	}
	return &endpoints{
		Issuer: d.Issuer, Authorization: d.AuthorizationEndpoint, Token: d.TokenEndpoint,
		UserInfo: d.UserinfoEndpoint, JWKS: d.JWKSURI, Algorithms: d.IDTokenAlgs, IssParameter: d.IssParameterSupported,
	}, nil
}

// tenantTemplateMatches accepts Microsoft's multi-tenant discovery, whose issuer
// is ".../{tenantid}/v2.0" for a configured ".../common/v2.0" or
// ".../organizations/v2.0": the ID token's tid fills the template when it is
// checked. Only those two: a template for one tenant's issuer would let every
// other tenant's tokens in.
func tenantTemplateMatches(discovered, configured string) bool {
	prefix, suffix, ok := strings.Cut(discovered, "{tenantid}")
	if !ok || !strings.HasPrefix(configured, prefix) || !strings.HasSuffix(configured, suffix) {
		return false
	}
	tenant := strings.TrimSuffix(strings.TrimPrefix(configured, prefix), suffix)
	return tenant == "common" || tenant == "organizations"
}

// tenantAliasMatches accepts Microsoft's discovery for a tenant named by an
// alias (consumers, or a domain such as contoso.com), whose issuer is the
// tenant's id: ".../9188040d-.../v2.0" for a configured ".../consumers/v2.0".
// The ID tokens then carry that issuer, checked exactly.
func tenantAliasMatches(discovered, configured string) bool {
	d, err1 := url.Parse(discovered)
	c, err2 := url.Parse(configured)
	if err1 != nil || err2 != nil || d.Scheme != c.Scheme || d.Host != c.Host || d.RawQuery != "" || d.Fragment != "" {
		return false
	}
	dTenant, dRest, _ := strings.Cut(strings.TrimPrefix(d.Path, "/"), "/")
	cTenant, cRest, _ := strings.Cut(strings.TrimPrefix(c.Path, "/"), "/")
	return dRest == cRest && tenantIDPattern.MatchString(dTenant) &&
		!tenantIDPattern.MatchString(cTenant) && cTenant != "common" && cTenant != "organizations"
}

// provider holds what the connector knows of one OpenID Provider: endpoints given
// in the configuration, or discovered and cached until they expire, and its keys.
type provider struct {
	issuer  string   // discovery issuer; empty without discovery
	issuers []string // accepted iss values without discovery
	// extraIssuers are accepted besides the discovered issuer (Google's scheme-less form).
	extraIssuers []string
	// tenantAlias lets discovery name a tenant's id as the issuer of a tenant
	// configured by alias (Microsoft's consumers, a domain).
	tenantAlias bool
	// endpointHosts may serve discovered endpoints besides the issuer's origin
	// (host:port, lower case).
	endpointHosts []string
	static        endpoints
	http          *oauth2kit.HTTPClient
	keys          *keySet
	minFetch      time.Duration
	now           func() time.Time

	mu        fetchLock
	current   *endpoints
	expires   time.Time
	lastFetch time.Time
	// failure is the last fetch's error while nothing is cached, answered
	// until failedUntil.
	failure     error
	failedUntil time.Time
}

// fetchLock is a mutex held across a fetch, up to the request timeout: a
// caller waiting for it gives up when its context ends, rather than wait out
// every fetch queued before its own.
type fetchLock chan struct{}

func newFetchLock() fetchLock { return make(fetchLock, 1) }

// lock takes the lock, or fails when ctx ends first; what names what the
// holder fetches, for the error.
func (l fetchLock) lock(ctx context.Context, what string) error {
	select {
	case l <- struct{}{}:
		return nil
	case <-ctx.Done():
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return sdk.Errorf(sdk.CodeProviderTimeout, "the %s did not arrive within the call's deadline (another call is fetching it)", what)
	}
	return sdk.Errorf(sdk.CodeGeneral, "the call was canceled while the %s was being fetched", what)
}

// hold takes the lock however long that takes, for what only reads the cache.
func (l fetchLock) hold() { l <- struct{}{} }

func (l fetchLock) unlock() { <-l }

func newProvider(issuer string, issuers []string, static endpoints, client *oauth2kit.HTTPClient, minFetch time.Duration) *provider {
	p := &provider{issuer: issuer, issuers: issuers, static: static, http: client, minFetch: minFetch, now: time.Now, mu: newFetchLock()}
	p.keys = &keySet{http: client, minFetch: minFetch, now: func() time.Time { return p.now() }, mu: newFetchLock()}
	return p
}

// endpoints returns the provider's endpoints, discovering them when the cached
// document is missing or expired.
func (p *provider) endpoints(ctx context.Context) (*endpoints, error) {
	if p.issuer == "" {
		e := p.static
		return &e, nil
	}
	if err := p.mu.lock(ctx, "discovery document"); err != nil {
		return nil, err
	}
	defer p.mu.unlock()
	if p.current != nil && p.now().Before(p.expires) {
		return p.current, nil
	}
	return p.fetchLocked(ctx)
}

// cached returns the discovered endpoints and how long they stay fresh,
// without fetching: nil before the first discovery.
func (p *provider) cached() (*endpoints, time.Duration) {
	p.mu.hold()
	defer p.mu.unlock()
	if p.current == nil {
		return nil, 0
	}
	return p.current, p.expires.Sub(p.now())
}

// refresh discovers the provider again, unless the last fetch is more recent than
// the floor: an ID token naming an unknown key may mean the jwks_uri moved.
func (p *provider) refresh(ctx context.Context) (*endpoints, error) {
	if p.issuer == "" {
		e := p.static
		return &e, nil
	}
	if err := p.mu.lock(ctx, "discovery document"); err != nil {
		return nil, err
	}
	defer p.mu.unlock()
	if p.current != nil && p.now().Sub(p.lastFetch) < p.minFetch {
		return p.current, nil
	}
	return p.fetchLocked(ctx)
}

func (p *provider) fetchLocked(ctx context.Context) (*endpoints, error) {
	if p.current == nil && p.failure != nil && p.now().Before(p.failedUntil) {
		return nil, p.failure
	}
	p.lastFetch = p.now()
	e, lifetime, err := p.discover(ctx)
	if err != nil {
		if p.current != nil {
			// A provider that is down a moment, or answers with a document
			// that cannot be used, keeps its last known metadata, and is
			// asked again after retryAfterFailure.
			sdk.Logger(ctx).Warn("discovery failed; keeping the cached document", "issuer", p.issuer, "error", err)
			p.expires = p.now().Add(retryAfterFailure)
			return p.current, nil
		}
		if ctx.Err() == nil { // the caller's own end says nothing of the provider
			p.failure, p.failedUntil = err, p.now().Add(retryUncachedAfterFailure)
		}
		return nil, err
	}
	p.current, p.expires, p.failure = e, p.now().Add(lifetime), nil
	return e, nil
}

// discover fetches and checks the discovery document, explicit endpoints over
// the discovered ones, and says how long to keep it. An answer that arrives
// but is refused fails like one that does not arrive.
func (p *provider) discover(ctx context.Context) (*endpoints, time.Duration, error) {
	url := strings.TrimSuffix(p.issuer, "/") + discoveryPath
	doc, err := p.http.GetJSON(ctx, url, "discovery document")
	if err != nil {
		return nil, 0, err
	}
	e, err := parseDiscovery(doc.Body, p.issuer, p.endpointHosts, p.tenantAlias)
	if err != nil {
		return nil, 0, err
	}
	// Explicit endpoints win over discovered ones.
	for dst, src := range map[*string]string{&e.Authorization: p.static.Authorization, &e.Token: p.static.Token, &e.UserInfo: p.static.UserInfo, &e.JWKS: p.static.JWKS} {
		if src != "" {
			*dst = src
		}
	}
	return e, ttl(doc), nil
}

// ttl is how long to keep a fetched document. One the provider asked not to
// be kept gets the least, not the default: a key withdrawn from a set served
// no-store must stop verifying soon.
func ttl(doc *oauth2kit.Document) time.Duration {
	switch {
	case doc.NoCache:
		return minMetadataTTL
	case doc.MaxAge == 0:
		return defaultMetadataTTL
	case doc.MaxAge < minMetadataTTL:
		return minMetadataTTL
	case doc.MaxAge > maxMetadataTTL:
		return maxMetadataTTL
	}
	return doc.MaxAge
}

// clean keeps provider text short and printable for messages.
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
