package oidcprovider

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/idplug/idplug/host/config"
	"github.com/idplug/idplug/host/seal"
	"github.com/idplug/idplug/host/store"
	"github.com/idplug/idplug/internal/ratelimit"
	"github.com/idplug/idplug/sdk"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Store is what the provider keeps in the store.
type Store interface {
	store.Sessions    // pending authorization requests and codes, by hashed id
	store.Grants      // one per code exchanged; refresh token rotation
	store.SigningKeys // shared by every replica
	store.Flows       // private_key_jwt assertions, used once
}

// Login is who signed in in a browser, and with which connector instance.
type Login struct {
	// Instance is the connector instance id; Target its provider's name.
	Instance string
	Target   string
	UserInfo sdk.UserInfo
	// Claims are those the connector's mapping added; they go into the ID
	// token and the userinfo answer whatever the scopes.
	Claims map[string]any
	// AuthTime is when the browser signed in at the provider.
	AuthTime time.Time
	// Mapping is the fingerprint of the instance's mapping the profile and
	// claims were mapped with (mapping.Fingerprint; "" for none).
	Mapping string
	// Source names who vouched for the profile (Options.Sources): "" for a
	// sign-in that did not keep it.
	Source string
}

// Browser is what the provider needs of idplug's browser routes: the sign-in
// they run, the page to choose a connector, and the session they keep.
type Browser interface {
	// SignedIn returns this browser's sign-in; false when there is none (or
	// the store cannot tell).
	SignedIn(r *http.Request) (Login, bool)
	// HasSession says whether this browser carries a session at all, one
	// SignedIn refuses included: a sign-out is sure whose browser it signs
	// out only when there is none, or SignedIn names its user.
	HasSession(r *http.Request) bool
	// Choose shows the page to choose among the connector instances ids; each
	// leads to its sign-in, which comes back to returnTo.
	Choose(w http.ResponseWriter, r *http.Request, ids []string, returnTo string)
	// SignIn sends the browser to instance id's sign-in, back to returnTo (a
	// path on this site) afterwards, whether it signed in or failed.
	SignIn(w http.ResponseWriter, r *http.Request, id, returnTo string)
	// SignInFailed reads how the sign-in that came back to returnTo failed:
	// nil, nil when r says nothing of a failure. Only the browser routes'
	// own word, made for returnTo, is a failure; anything else that claims
	// one is an error (an *sdk.Error for people).
	SignInFailed(r *http.Request, returnTo string) (*SignInFailure, error)
	// SignOut ends this browser's sign-in.
	SignOut(w http.ResponseWriter, r *http.Request) error
	// Fail shows a failed browser step; err is an *sdk.Error with a message
	// for people, or ErrCrossOrigin.
	Fail(w http.ResponseWriter, r *http.Request, err error)
	// ConfirmSignOut asks the person whether to sign out, posting to action.
	ConfirmSignOut(w http.ResponseWriter, r *http.Request, action string, fields map[string]string)
	// Bind returns the mark of this browser that an app's sign-in request
	// started in it is tied to (a cookie of the browser routes, lasting at
	// least ttl), making one and setting it on w when the browser has none.
	Bind(w http.ResponseWriter, r *http.Request, ttl time.Duration) string
	// Binding is the mark r's browser carries, "" when it has none.
	Binding(r *http.Request) string
	// ConfirmApp asks the person whether to go on signing in to the app
	// client, whose answer goes to redirectURI, posting to action with fields
	// (and deny=1 to refuse).
	ConfirmApp(w http.ResponseWriter, r *http.Request, action string, fields map[string]string, client, redirectURI string)
}

// SignInFailure is how a browser's sign-in for an app's request failed, as
// the app is told at its redirect URI (OpenID Connect Core 3.1.2.6).
type SignInFailure struct {
	// Error is access_denied when the person, the connector's provider or
	// its mapping said no; temporarily_unavailable or server_error for a
	// failure that is not theirs.
	Error       string
	Description string
}

// Options configure a Provider.
type Options struct {
	Config *config.Provider
	// PublicPath is the path of public_url ("" at the root): links the
	// browser follows start with it.
	PublicPath string
	Store      Store
	// Sealer seals tokens and the signing keys (session_keys).
	Sealer func() *seal.Sealer
	// Targets maps each configured connector instance id to its target (for
	// sub); false for an id that is not configured.
	Targets func(instance string) (string, bool)
	// Mappings is the fingerprint of each configured instance's profile
	// mapping (mapping.Fingerprint; "" for none): a grant ends once its
	// instance maps profiles another way. Nil checks no mapping.
	Mappings func(instance string) string
	// AllInstances lists the configured instance ids, in configuration order:
	// a client without a connectors list may use them all.
	AllInstances func() []string
	// RemovedAt is when a connector instance was last removed from the
	// configuration (Unix ms), by this process or another sharing its store;
	// false when never (nil: none known). A grant signed in before then ended
	// with the removal, even once the instance is configured again.
	RemovedAt func(instance string) (int64, bool)
	Browser   Browser
	// RequestTTL bounds a pending authorization request (the sign-in at the
	// connector included).
	RequestTTL time.Duration
	Logger     hclog.Logger
	// Sources, when set, names who vouches for instance's profiles now, as
	// Login.Source does (its plugin, the provider it names, its target and
	// mapping), and unnamed what the same plugin gave before it named its
	// provider; ok is false for an instance not configured. A grant made
	// through a sign-in whose source is neither ends at its next use: the
	// connector was pointed at another provider since.
	Sources func(instance string) (now, unnamed string, ok bool)
	// OnEvent, when set, counts protocol events for metrics: an event name
	// (token, refresh, refused_client, reused_refresh_token, replayed_code, ...).
	OnEvent func(event string)
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Provider is idplug's OpenID Provider.
type Provider struct {
	opts    Options
	clients map[string]*client
	keys    *keyRing
	op      *op.Provider
	handler http.Handler
	log     hclog.Logger
	limiter *ratelimit.Failures
	// authorizeLimiter counts authorization requests per client address.
	authorizeLimiter *ratelimit.Failures
	// built is when this configuration took effect here (a start or a
	// reload): a grant signed in after it was made under another replica's
	// configuration, newer than this one's during a rolling update.
	built time.Time
	// print is configPrint of this configuration, fixed once the host serves
	// its connectors (Settle, or the first use).
	print     string
	printOnce sync.Once
}

// Settle fixes the digest of the configuration that this provider's grants
// carry (configPrint) from the connectors as the host has them now. idplug
// serve builds a reloaded provider before it configures the new connectors,
// and calls Settle once they are, before the provider serves: a digest taken
// at New would name the old connectors, the same as a replica still on them,
// which would then judge the new grants by the old connectors.
func (p *Provider) Settle() { p.configPrint() }

// configPrint is p's digest (see Settle).
func (p *Provider) configPrint() string {
	p.printOnce.Do(func() { p.print = configPrint(p.opts) })
	return p.print
}

// configPrint is a digest of what lapsed judges a grant by: the provider's
// settings and, for each instance, its target, mapping and provider. Replicas
// on one configuration have the same print whenever they started, so that
// one started earlier judges the grants of one started later.
func configPrint(opts Options) string {
	h := sha256.New()
	enc := json.NewEncoder(h)
	if err := enc.Encode(opts.Config); err != nil {
		// Not for a configuration that loaded; kept apart all the same.
		fmt.Fprintf(h, "unencodable: %v", err)
	}
	var instances []string
	if opts.AllInstances != nil {
		instances = slices.Sorted(slices.Values(opts.AllInstances()))
	}
	for _, id := range instances {
		target, _ := opts.Targets(id)
		mapping := ""
		if opts.Mappings != nil {
			mapping = opts.Mappings(id)
		}
		var source, unnamed string
		if opts.Sources != nil {
			source, unnamed, _ = opts.Sources(id)
		}
		_ = enc.Encode([]string{id, target, mapping, source, unnamed})
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:12])
}

// Endpoint paths below the issuer.
const (
	loginPath      = "/login"
	finishPath     = FinishPath
	endSessionPath = "/end_session"
	// tokenPath is served by the library (op.NewEndpoint, without the slash),
	// guarded in endpoints.go and taken as an assertion's audience.
	tokenPath = "/oauth/token"
)

// FinishPath, below the issuer's path and with ?id=, is where a browser's
// sign-in for an app's request comes back to, failed or not.
const FinishPath = "/login/finish"

// New builds the provider. Its signing keys are made on first use.
func New(opts Options) (*Provider, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.RequestTTL <= 0 {
		opts.RequestTTL = 10 * time.Minute
	}
	p := &Provider{opts: opts, clients: map[string]*client{}, log: opts.Logger, limiter: newTokenLimiter(),
		authorizeLimiter: ratelimit.New(maxAuthorizeRequests, authorizeWindow, maxTrackedClients), built: opts.Now()}
	for _, c := range opts.Config.Clients {
		cl, err := newClient(c, p)
		if err != nil {
			return nil, fmt.Errorf("provider client %s: %w", c.ID, err)
		}
		p.clients[c.ID] = cl
	}
	p.keys = newKeyRing(opts.Store, opts.Sealer, opts.Config.AccessTokenTTL, opts.Now, opts.Logger)

	issuer := opts.Config.Issuer
	var extra []op.Option
	if u, err := url.Parse(issuer); err == nil && u.Scheme == "http" {
		// Plain http only where config allowed it: a loopback public_url.
		extra = append(extra, op.WithAllowInsecure())
	}
	cryptoKey := sha256.Sum256([]byte("unused: idplug seals tokens itself"))
	provider, err := op.NewProvider(&op.Config{
		CryptoKey:                cryptoKey,
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		AuthMethodPrivateKeyJWT:  true,
		GrantTypeRefreshToken:    true,
		SupportedClaims:          supportedClaims,
		SupportedScopes:          supportedScopes,
		DefaultLogoutRedirectURI: strings.TrimSuffix(opts.PublicPath, "/") + "/",
	}, &storage{p: p}, op.StaticIssuer(issuer), append(extra,
		op.WithCrypto(&sealedCrypto{p: p}),
		op.WithIDTokenHintVerifierOpts(op.WithSupportedIDTokenHintSigningAlgorithms("RS256", "ES256")),
	)...)
	if err != nil {
		return nil, err
	}
	p.op = provider
	endpoints := op.Endpoints{
		Authorization: op.NewEndpoint("authorize"),
		Token:         op.NewEndpoint(strings.TrimPrefix(tokenPath, "/")),
		Userinfo:      op.NewEndpoint("userinfo"),
		Revocation:    op.NewEndpoint("revoke"),
		EndSession:    op.NewEndpoint("end_session"),
		JwksURI:       op.NewEndpoint("keys"),
	}
	srv := &server{LegacyServer: op.NewLegacyServer(provider, endpoints), p: p}
	lib := op.RegisterLegacyServer(srv, http.NotFound,
		op.WithHTTPMiddleware(p.limitTokenRequests, p.limitAuthorizeRequests, p.bindBrowser, p.postOnly, p.noRepeatedParameters, p.maxAgeParam, p.bearerChallenge, p.issInAuthorizationErrors),
		op.WithServerCORSOptions(corsOptions()),
	)
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+loginPath, p.loginPage)
	mux.HandleFunc("GET "+finishPath, p.finish)
	mux.Handle("POST "+finishPath, p.sameOrigin(http.HandlerFunc(p.finish)))
	mux.HandleFunc(endSessionPath, p.endSession)
	mux.Handle("POST "+confirmPath, p.sameOrigin(http.HandlerFunc(p.confirmSignOut)))
	mux.Handle("/", lib)
	p.handler = capBodies(p.withIssuer(mux))
	return p, nil
}

// ServeHTTP serves the provider's endpoints; r's path is relative to the issuer.
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.handler.ServeHTTP(w, r) }

// Issuer is the provider's issuer URL.
func (p *Provider) Issuer() string { return p.opts.Config.Issuer }

// Ready makes sure the signing keys exist and open: it makes them, or seals
// them again under the first session key, when they need it.
func (p *Provider) Ready(ctx context.Context) error {
	_, err := p.keys.current(ctx)
	return err
}

// Check makes sure the stored signing keys open under this provider's
// session keys, and writes nothing. A reload asks it before it is applied:
// Ready, when the keys needed a change, sealed them all under the new
// session keys, and a reload refused afterwards (a connector's typo) left
// the running configuration with keys it could not open.
func (p *Provider) Check(ctx context.Context) error { return p.keys.check(ctx) }

// capBodies bounds what any endpoint reads of a body to maxBody: the
// library's and the sign-out's forms would otherwise read up to the standard
// library's 10 MB (32 MB for a multipart one, spilling to disk).
func capBodies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		}
		next.ServeHTTP(w, r)
	})
}

// withIssuer puts the issuer in every request's context, as the library's
// handlers expect.
func (p *Provider) withIssuer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(op.ContextWithIssuer(r.Context(), p.opts.Config.Issuer)))
	})
}

// ErrCrossOrigin is what Browser.Fail gets for a state-changing request that
// came from another site: the browser's pages refuse it in their own words.
var ErrCrossOrigin = errors.New("this request came from another site; use the button on this site's page")

// sameOrigin refuses a state-changing request from another site.
func (p *Provider) sameOrigin(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	if u, err := url.Parse(p.opts.Config.Issuer); err == nil {
		_ = cop.AddTrustedOrigin(u.Scheme + "://" + u.Host)
	}
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.opts.Browser.Fail(w, r, ErrCrossOrigin)
	}))
	return cop.Handler(next)
}

// link is a path on this site below the issuer.
func (p *Provider) link(path string) string {
	return strings.TrimSuffix(p.opts.PublicPath, "/") + p.opts.Config.IssuerPath + path
}

func (p *Provider) event(name string) {
	if p.opts.OnEvent != nil {
		p.opts.OnEvent(name)
	}
}

func (p *Provider) client(id string) (*client, error) {
	c, ok := p.clients[id]
	if !ok {
		return nil, oidc.ErrInvalidClient().WithDescription("no such client")
	}
	return c, nil
}

// oidcError turns a store failure into the server error the library answers,
// and keeps an *oidc.Error as it is.
func oidcError(err error, what string) error {
	var oe *oidc.Error
	if errors.As(err, &oe) {
		return oe
	}
	if errors.Is(err, store.ErrUnavailable) {
		// 503, as /v1 answers a store that does not answer: a client may
		// retry (statusRecorder adds Retry-After), and nothing was spent.
		return op.NewStatusError(oidc.ErrServerError().WithParent(err).WithDescription("%s; try again shortly", what), http.StatusServiceUnavailable)
	}
	return oidc.ErrServerError().WithParent(err).WithDescription("%s", what)
}

var (
	supportedScopes = []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopePhone, oidc.ScopeOfflineAccess}
	supportedClaims = []string{"sub", "aud", "exp", "iat", "iss", "auth_time", "nonce", "amr", "at_hash", "azp",
		"name", "picture", "email", "email_verified", "phone_number", "connector"}
)
