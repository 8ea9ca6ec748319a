// Package server is idplug's HTTP face: the /v1 API for identity servers and app
// backends, the browser sign-in routes for apps that only want social login, and the
// health and metrics endpoints.
package server

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/idplug/idplug/host/accesslog"
	"github.com/idplug/idplug/host/apikey"
	"github.com/idplug/idplug/host/metrics"
	"github.com/idplug/idplug/host/seal"
	"github.com/idplug/idplug/host/store"
	"github.com/idplug/idplug/host/tracing"
	"github.com/idplug/idplug/host/vault"
	"github.com/idplug/idplug/internal/ratelimit"
)

// Settings configure a Server.
type Settings struct {
	// PublicURL is where browsers reach this host; callback URLs are
	// {PublicURL}/callback/{id}. A path in it (https://example.com/idp) puts every
	// route under that path.
	PublicURL *url.URL
	// APIKeys guard /v1 as bearer tokens, each with its scopes. Empty means
	// /v1 is closed, unless KeylessAPI.
	APIKeys []apikey.Key
	// KeylessAPI serves /v1 to anyone when APIKeys is empty: only for a server
	// in front of no plugin process (tests, embedders); idplug serve never sets
	// it, since a plugin could then call the API and read the vault.
	KeylessAPI bool
	// FlowTTL bounds a sign-in from authorization URL to callback (default 10 minutes).
	FlowTTL time.Duration
	// UserSessionTTL is how long a browser stays signed in (default 8 hours).
	UserSessionTTL time.Duration
	// AccessLog gets the line logged for every request (default: the Server's
	// logger). idplug serve gives it a buffered output (host/logsink), through an
	// *accesslog.Logger, which writes JSON lines without hclog's per-line encoder.
	AccessLog hclog.Logger
	// MaxBodyBytes caps request bodies (default 64 KiB).
	MaxBodyBytes int64
	// Store keeps flows single-use and browser sessions revocable, and holds
	// the token vault; nil is stateless mode.
	Store store.Store
	// Vault seals the tokens of instances that keep them; nil when no
	// vault_keys are configured.
	Vault *vault.Vault
	// RefreshMargin refreshes vault tokens that expire sooner than this
	// (default 1 minute).
	RefreshMargin time.Duration
	// Reload, when set, serves POST /v1/admin/reload: it re-reads the configuration
	// and applies it whole, or refuses it whole.
	Reload func(context.Context) error
	// SeparateAdmin moves /metrics and the detailed /readyz to AdminHandler (served
	// on a listener of their own); the main handler then answers /readyz with
	// readiness alone.
	SeparateAdmin bool
	// Tracing, when set, traces every request (host/tracing) and puts its trace
	// id in the access log; nil, the default, is off.
	Tracing *tracing.Tracing
}

// Bounds of the API key failure limiter.
const (
	maxKeyFailures   = 10
	keyFailureWindow = time.Minute
	maxTrackedAddrs  = 4096
)

// Server serves HTTP for one host's connectors.
type Server struct {
	host       Instances
	secrets    atomic.Pointer[secrets]
	settings   Settings
	log        hclog.Logger
	access     requestLogger // Settings.AccessLog
	metrics    *metrics.Metrics
	prefix     string // the path of PublicURL, without its trailing slash
	cookies    cookiePolicy
	badKeys    *ratelimit.Failures
	api        *http.ServeMux
	handler    http.Handler
	admin      http.Handler
	keep       tokenStorage
	storeProbe storeProbe // the store's answer to /readyz, shared by callers
	// storeWarnings rate-limits the log lines of store failures.
	storeWarnings *storeWarnings
	// connectors are the configured connector ids (SetConnectors), and removed
	// the time (Unix ms) each id that left them was last removed: sessions an
	// id made before then stay signed out if it comes back.
	connectorsMu sync.Mutex
	connectors   map[string]bool
	removed      atomic.Pointer[map[string]int64]
	scopes       map[string]apikey.Scope // pattern -> scope of each /v1 route declared with route
	vault        *vault.Keeper           // nil without a store or vault keys
	provider     providerSlot            // the OpenID Provider, when mounted
}

// DefaultUserSessionTTL is how long a browser stays signed in when
// Settings.UserSessionTTL is not set.
const DefaultUserSessionTTL = 8 * time.Hour

// New builds the server's routes over h (a *host.Host).
func New(h Instances, sealer *seal.Sealer, m *metrics.Metrics, log hclog.Logger, s Settings) *Server {
	if s.FlowTTL <= 0 {
		s.FlowTTL = 10 * time.Minute
	}
	if s.UserSessionTTL <= 0 {
		s.UserSessionTTL = DefaultUserSessionTTL
	}
	if s.RefreshMargin <= 0 {
		s.RefreshMargin = time.Minute
	}
	if s.MaxBodyBytes <= 0 {
		s.MaxBodyBytes = 64 << 10
	}
	public := *s.PublicURL
	// The path keeps the operator's spelling (RawPath) for the callback URL.
	public.RawPath = strings.TrimRight(public.EscapedPath(), "/")
	public.Path = strings.TrimRight(public.Path, "/")
	s.PublicURL = &public
	if s.AccessLog == nil {
		s.AccessLog = log
	}
	access, ok := s.AccessLog.(requestLogger)
	if !ok { // any other hclog.Logger: its own lines, through its Info
		access = accesslog.New(s.AccessLog, nil, false)
	}
	srv := &Server{host: h, settings: s, log: log, access: access, metrics: m, prefix: public.Path,
		cookies:       newCookiePolicy(public.Scheme, public.Path),
		badKeys:       ratelimit.New(maxKeyFailures, keyFailureWindow, maxTrackedAddrs),
		storeWarnings: newStoreWarnings()}
	srv.vault = srv.newKeeper()
	srv.secrets.Store(newSecrets(s.APIKeys, sealer))
	srv.api = srv.apiRoutes()

	mux := http.NewServeMux()
	// The API key is checked before anything else under /v1: an unauthenticated
	// caller learns nothing of the routes, not even which methods they take.
	mux.Handle("/v1/", srv.requireAPIKey(srv.api))
	srv.browserRoutes(mux)
	srv.registerFormPost(mux)
	mux.HandleFunc("GET /healthz", srv.healthz)
	if s.SeparateAdmin {
		mux.HandleFunc("GET /readyz", srv.readyzBare)
	} else {
		mux.HandleFunc("GET /readyz", srv.readyzPublic)
		if m != nil {
			mux.Handle("GET /metrics", m.Handler())
		}
	}
	srv.handler = s.Tracing.Handler(srv.accessLog(srv.underPrefix(srv.withProvider(srv.canonicalAPIPaths(mux)))))

	admin := http.NewServeMux()
	admin.HandleFunc("GET /healthz", srv.healthz)
	admin.HandleFunc("GET /readyz", srv.readyzDetailed)
	if m != nil {
		admin.Handle("GET /metrics", m.Handler())
	}
	srv.admin = srv.accessLog(admin)
	return srv
}

func (s *Server) apiRoutes() *http.ServeMux {
	mux := http.NewServeMux()
	s.scopes = map[string]apikey.Scope{}
	// Each route names the scope a key needs (none: any valid key); a route
	// with {id} also needs the connector among the key's.
	s.route(mux, "GET /v1/connectors", "", s.listConnectors)
	s.route(mux, "GET /v1/connectors/{id}", "", s.describeConnector)
	s.route(mux, "POST /v1/connectors/{id}/authorization-uri", apikey.SignIn, s.authorizationURI)
	s.route(mux, "POST /v1/connectors/{id}/user-info", apikey.SignIn, s.userInfo)
	s.route(mux, "POST /v1/connectors/{id}/refresh", apikey.SignIn, s.refresh)
	s.route(mux, "GET /v1/connectors/{id}/users/{userId}/tokens", apikey.TokensRead, s.vaultTokens)
	s.route(mux, "DELETE /v1/connectors/{id}/users/{userId}/tokens", apikey.TokensDelete, s.deleteVaultTokens)
	if s.settings.Reload != nil {
		s.route(mux, "POST /v1/admin/reload", apikey.Admin, s.reload)
	}
	s.route(mux, "POST /v1/connectors/{id}/mapping/test", apikey.Admin, s.testMapping)
	s.route(mux, "GET /v1/openapi.json", "", s.openAPIDocument)
	mux.HandleFunc(apiFallback, s.noSuchAPIRoute)
	return mux
}

// AdminHandler serves /healthz, the detailed /readyz and /metrics, at the root,
// for a listener of their own (Settings.SeparateAdmin).
func (s *Server) AdminHandler() http.Handler { return s.admin }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// callbackURL is {public_url}/callback/{id}, the public path spelled as the
// operator wrote it, as they register the URL with the provider, which
// compares it byte for byte: Go's own escaping of the path had sent
// /id%28p%29/callback/acme for a public_url ending in /id(p), and the
// provider refused it.
func (s *Server) callbackURL(id string) string {
	u := *s.settings.PublicURL
	tail := "/callback/" + url.PathEscape(id)
	u.RawPath = u.EscapedPath() + tail
	u.Path += tail
	return u.String()
}

// accessLog logs one line per request: never the query string (it carries codes
// and states) nor any header value, and a user id in a path only as a hash
// (accesslog.Path).
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		r = r.WithContext(context.WithValue(r.Context(), infoContext{}, &requestInfo{}))
		next.ServeHTTP(rec, r)
		took := time.Since(start)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		if s.metrics != nil {
			s.metrics.ObserveRequest(route, rec.status, took)
		}
		e := accesslog.Entry{Method: r.Method, Path: accesslog.Path(r), Route: route, Status: rec.status, Duration: took, Remote: r.RemoteAddr}
		if s.settings.Tracing != nil {
			tracing.Finish(r.Context(), r.Method, tracing.Route(r.Pattern), rec.status)
			e.TraceID = tracing.TraceID(r.Context())
		}
		s.access.LogRequest(e)
	})
}

// requestLogger writes request lines: an *accesslog.Logger, which idplug serve
// passes in Settings.AccessLog to have JSON lines written without hclog's encoder.
type requestLogger interface{ LogRequest(accesslog.Entry) }

// requestInfo is what the handlers of one request learn for the ones around
// them: the API key that authenticated it.
type requestInfo struct {
	key   apikey.Key
	keyed bool
}

type infoContext struct{}

func infoOf(r *http.Request) *requestInfo {
	info, _ := r.Context().Value(infoContext{}).(*requestInfo)
	return info
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}
