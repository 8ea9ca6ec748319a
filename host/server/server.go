// Package server is idplug's HTTP face: the /v1 API for identity servers and app
// backends, the browser sign-in routes for apps that only want social login, and the
// health and metrics endpoints.
package server

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/host/metrics"
	"github.com/idplug/idplug/host/seal"
)

// Settings configure a Server.
type Settings struct {
	// PublicURL is where browsers reach this host; callback URLs are {PublicURL}/callback/{id}.
	PublicURL *url.URL
	// APIKeys guard /v1 as bearer tokens. Empty means /v1 is open (loopback only).
	APIKeys []string
	// FlowTTL bounds a sign-in from authorization URL to callback (default 10 minutes).
	FlowTTL time.Duration
	// UserSessionTTL is how long a browser stays signed in (default 8 hours).
	UserSessionTTL time.Duration
	// AccessLog gets the line logged for every request (default: the Server's
	// logger). idplug serve gives it a buffered output (internal/logsink).
	AccessLog hclog.Logger
	// MaxBodyBytes caps request bodies (default 64 KiB).
	MaxBodyBytes int64
	// Reload, when set, serves POST /v1/admin/reload: it re-reads the configuration
	// and applies it whole, or refuses it whole.
	Reload func(context.Context) error
}

// Server serves HTTP for one Host.
type Server struct {
	host     *host.Host
	secrets  atomic.Pointer[secrets]
	settings Settings
	log      hclog.Logger
	metrics  *metrics.Metrics
	handler  http.Handler
}

// New builds the server's routes.
func New(h *host.Host, sealer *seal.Sealer, m *metrics.Metrics, log hclog.Logger, s Settings) *Server {
	if s.FlowTTL <= 0 {
		s.FlowTTL = 10 * time.Minute
	}
	if s.UserSessionTTL <= 0 {
		s.UserSessionTTL = 8 * time.Hour
	}
	if s.MaxBodyBytes <= 0 {
		s.MaxBodyBytes = 64 << 10
	}
	s.PublicURL.Path = strings.TrimRight(s.PublicURL.Path, "/")
	if s.AccessLog == nil {
		s.AccessLog = log
	}
	srv := &Server{host: h, settings: s, log: log, metrics: m}
	srv.secrets.Store(newSecrets(s.APIKeys, sealer))

	mux := http.NewServeMux()
	api := func(pattern string, fn http.HandlerFunc) { mux.Handle(pattern, srv.requireAPIKey(fn)) }
	api("GET /v1/connectors", srv.listConnectors)
	api("GET /v1/connectors/{id}", srv.describeConnector)
	api("POST /v1/connectors/{id}/authorization-uri", srv.authorizationURI)
	api("POST /v1/connectors/{id}/user-info", srv.userInfo)
	api("POST /v1/connectors/{id}/refresh", srv.refresh)
	if s.Reload != nil {
		api("POST /v1/admin/reload", srv.reload)
	}
	mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, errNotFound("no such API route: "+r.Method+" "+r.URL.Path))
	})

	mux.HandleFunc("GET /{$}", srv.homePage)
	mux.HandleFunc("GET /sign-in/{id}", srv.signIn)
	mux.HandleFunc("GET /callback/{id}", srv.callback)
	srv.registerFormPost(mux)
	mux.HandleFunc("GET /user", srv.user)
	mux.HandleFunc("GET /sign-out", srv.signOut)

	mux.HandleFunc("GET /healthz", srv.healthz)
	mux.HandleFunc("GET /readyz", srv.readyz)
	if m != nil {
		mux.Handle("GET /metrics", m.Handler())
	}
	srv.handler = srv.accessLog(mux)
	return srv
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// secureCookies is true when browsers reach the host over https.
func (s *Server) secureCookies() bool { return s.settings.PublicURL.Scheme == "https" }

func (s *Server) callbackURL(id string) string {
	u := *s.settings.PublicURL
	u.Path += "/callback/" + url.PathEscape(id)
	return u.String()
}

// accessLog logs one line per request: never the query string (it carries codes
// and states) nor any header value.
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		took := time.Since(start)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		if s.metrics != nil {
			s.metrics.ObserveRequest(route, rec.status, took)
		}
		s.settings.AccessLog.Info("request", "method", r.Method, "path", r.URL.Path, "route", route, "status", rec.status,
			"duration", took.Round(time.Microsecond), "remote", r.RemoteAddr)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}
