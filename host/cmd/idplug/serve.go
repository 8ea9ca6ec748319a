package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/host/accesslog"
	"github.com/idplug/idplug/host/catalog"
	"github.com/idplug/idplug/host/config"
	"github.com/idplug/idplug/host/logsink"
	"github.com/idplug/idplug/host/metrics"
	"github.com/idplug/idplug/host/oidcprovider"
	"github.com/idplug/idplug/host/sandbox"
	"github.com/idplug/idplug/host/seal"
	"github.com/idplug/idplug/host/server"
	"github.com/idplug/idplug/host/store"
	"github.com/idplug/idplug/host/tracing"
	"github.com/idplug/idplug/internal/connlimit"
	"github.com/idplug/idplug/internal/gcpercent"
	"github.com/idplug/idplug/internal/printable"
	"github.com/idplug/idplug/internal/procs"
	"github.com/idplug/idplug/internal/slogbridge"
)

// serveGCHeadroom is how far idplug serve's heap may grow over its live memory
// before a collection, unless GOGC is set: see internal/gcpercent.
const serveGCHeadroom = 16 << 20

// shutdownGrace bounds how long requests in flight may take to finish on SIGTERM.
const shutdownGrace = 30 * time.Second

// daemon is a running `idplug serve`.
type daemon struct {
	path    string
	log     hclog.Logger
	host    *host.Host
	srv     *server.Server
	store   store.Store // nil when the store is off
	metrics *metrics.Metrics

	mu   sync.Mutex // one reload at a time
	cfg  *config.Config
	prov *oidcprovider.Provider // nil without a provider section
}

func serveCmd(args []string, stdout, stderr io.Writer) int {
	path, cfg, code := loadConfig("serve", args, stderr)
	if cfg == nil {
		return code
	}
	gcpercent.KeepHeadroom(serveGCHeadroom)
	// Every request's line goes out in batches; every other line at once.
	out := stderr
	if cfg.LogFormat == "json" {
		out = jsonLines{stderr}
	}
	sink := logsink.New(out, 0, 0)
	defer sink.Close()
	log := newLogger(cfg, sink.Direct())
	if sysmonErr != nil {
		log.Warn("the Go runtime's monitor keeps its default deep sleep (more CPU a sign-in at light load)", "error", sysmonErr)
	}
	// Libraries that log with slog's default logger (the OpenID Provider's
	// does; so does the standard log package's default, once this is set) go
	// through idplug's logger, in its format and at its level.
	slog.SetDefault(slog.New(slogbridge.New(log.Named("lib"))))
	m := metrics.New()
	// A public /metrics names no connector unless the operator says so.
	if cfg.AdminListen == "" && !cfg.Metrics.ConnectorLabels {
		m.HideConnectors()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	// From the start, so a SIGHUP sent while plugins are still starting (or just as
	// idplug says it listens) is a reload and not the default: death.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	tr, err := startTracing(ctx, cfg, log)
	if err != nil {
		fmt.Fprintln(stderr, "tracing:", err)
		return 1
	}
	defer stopTracing(tr, log) // after the plugins stopped (deferred below): their last spans too
	// The listeners are bound before any plugin starts: the sandbox keeps
	// plugins off their ports, which a port 0 in the file does not name.
	lis, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		fmt.Fprintln(stderr, "listen:", err)
		return 1
	}
	defer lis.Close()
	adminLis, err := listenAdmin(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "admin_listen:", err)
		return 1
	}
	if adminLis != nil {
		defer adminLis.Close()
	}
	h, err := openHost(ctx, path, cfg, log, m, true, tr, boundPorts(lis, adminLis))
	if err != nil {
		log.Error("cannot start", "error", err)
		printError(stderr, err)
		return 1
	}
	defer h.Close()
	m.WatchHost(h)

	sealer, err := seal.New(cfg.SessionKeys)
	if err != nil {
		fmt.Fprintln(stderr, "session_keys:", err)
		return 1
	}
	vlt, err := openVault(cfg)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	st, err := openServeStore(ctx, cfg, m)
	if err != nil {
		log.Error("cannot open the store", "error", err)
		fmt.Fprintln(stderr, err)
		return 1
	}
	if st != nil {
		defer func() {
			// A SQLite store saves its consumed flows here; if that fails, the
			// next start refuses every sign-in sealed before it, as after a crash,
			// and the operator should know why.
			if err := st.Close(); err != nil {
				log.Error("closing the store", "error", err)
			}
		}()
		startPurge(ctx, st, log.Named("store"))
		log.Info("store opened", "backend", st.Backend(), "url", store.Redact(cfg.Store.URL), "schema", store.SchemaVersion())
		if store.AfterUncleanStop(st) {
			log.Warn("the last run stopped without saving its consumed sign-ins (a crash or a kill): " +
				"sign-ins started before this start are refused with session_expired, and must be started again")
		}
	}
	d := &daemon{path: path, log: log, host: h, cfg: cfg, store: st, metrics: m}
	warnKeys(cfg, log)
	publicURL, _ := url.Parse(cfg.PublicURL) // checked by config
	d.srv = server.New(h, sealer, m, log.Named("http"), server.Settings{
		AccessLog: accesslog.New(newLogger(cfg, sink.Buffered()).Named("http"), sink.Buffered(), cfg.LogFormat == "json"),
		PublicURL: publicURL,
		APIKeys:   cfg.APIKeys,
		FlowTTL:   cfg.SessionTTL,
		// Single sign-on serves only a sign-in whose browser session lives.
		UserSessionTTL: browserSessionTTL(cfg),
		Reload:         d.reloadFromAPI,
		Store:          st,
		Vault:          vlt,
		// With admin_listen, /metrics and the detailed /readyz move there.
		SeparateAdmin: cfg.AdminListen != "",
		Tracing:       tr,
	})
	d.srv.SetTokenStorage(tokenStorage(cfg, log))
	if err := d.srv.SetConnectors(ctx, connectorIDs(cfg)); err != nil {
		log.Error("cannot start", "error", err)
		fmt.Fprintln(stderr, "store:", err)
		return 1
	}
	prov, err := d.buildProvider(ctx, cfg, sealer, (*oidcprovider.Provider).Ready)
	if err != nil {
		log.Error("cannot start the OpenID Provider", "error", err)
		fmt.Fprintln(stderr, "provider:", err)
		return 1
	}
	d.mountProvider(cfg, prov)
	d.prov = prov
	m.ConfigApplied(time.Now())
	// Behind the operator's reverse proxies, the client's address for
	// everything after (rate limits, the access log, traces).
	public := cfg.HTTP.TrustedProxies.Handler(d.srv)
	// One P while requests come one at a time (see internal/procs).
	tuner := procs.Start(ctx)
	httpSrv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tuner.Enter()
			defer tuner.Leave()
			public.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      cfg.CallTimeout + 30*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    server.MaxHeaderBytes,
		// net/http's own lines (a panic in a handler, TLS errors) through the
		// direct side too, so that they stay in order with the rest.
		ErrorLog: log.Named("http").StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}),
	}
	errc := make(chan error, 2)
	adminSrv, adminAddr := serveAdmin(cfg, adminLis, d.srv.AdminHandler(), httpSrv.ErrorLog, m, errc)
	log.Info("idplug is listening", "address", lis.Addr().String(), "public_url", cfg.PublicURL,
		"admin_address", adminAddr, "connectors", len(h.Instances()), "plugins", len(h.Catalog()), "running", len(h.Plugins()), "pid", os.Getpid())
	go func() { errc <- httpSrv.Serve(limitConnections(httpSrv, lis, cfg, m, "public")) }()

	for {
		select {
		case err := <-errc:
			log.Error("http server stopped", "error", err)
			return 1
		case <-hup:
			if err := d.reload(ctx); err != nil {
				log.Error("configuration reload refused; the old configuration keeps serving", "error", err, "by", "SIGHUP")
			}
			continue
		case <-ctx.Done():
		}
		break
	}
	// Finish requests in flight, then stop the plugins (deferred h.Close).
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := httpSrv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("requests still in flight at shutdown", "error", err)
	}
	if adminSrv != nil {
		_ = adminSrv.Shutdown(shutdownCtx)
	}
	return 0
}

// listenAdmin binds the admin listener (/metrics, the detailed /readyz) when
// admin_listen is set; nil otherwise.
func listenAdmin(cfg *config.Config) (net.Listener, error) {
	if cfg.AdminListen == "" {
		return nil, nil
	}
	return net.Listen("tcp", cfg.AdminListen)
}

// serveAdmin serves the admin listener, when there is one; its end is
// reported on errc.
func serveAdmin(cfg *config.Config, lis net.Listener, h http.Handler, errLog *stdlog.Logger, m *metrics.Metrics, errc chan<- error) (*http.Server, string) {
	if lis == nil {
		return nil, ""
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 16 << 10, ErrorLog: errLog}
	go func() { errc <- srv.Serve(limitConnections(srv, lis, cfg, m, "admin")) }()
	return srv, lis.Addr().String()
}

// limitConnections caps the connections srv holds on lis at
// http.max_connections, and those of one client address at
// http.max_connections_per_address once half are taken; at a cap, a new client takes the slot of
// the connection idle the longest (see internal/connlimit). Loopback peers
// and the trusted proxies carry other clients' connections: they are not
// capped by address.
func limitConnections(srv *http.Server, lis net.Listener, cfg *config.Config, m *metrics.Metrics, name string) net.Listener {
	l := connlimit.New(lis, connlimit.Options{
		Max:           cfg.HTTP.MaxConnections,
		PerAddress:    cfg.HTTP.MaxConnectionsPerAddress,
		Exempt:        func(a netip.Addr) bool { return a.IsLoopback() || cfg.HTTP.TrustedProxies.Trusts(a) },
		HeaderTimeout: cfg.HTTP.ReadHeaderTimeout,
	})
	srv.ConnState = l.ConnState
	m.WatchListener(name, l.Reclaimed, l.Refused)
	return l
}

// reload reads the configuration file again and applies its connectors, API keys
// and session keys. A file that does not load, changes a setting that needs a
// restart, or has an invalid connector is refused whole: the old configuration
// keeps serving.
func (d *daemon) reload(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	err := d.apply(ctx)
	if err != nil {
		d.metrics.ConfigRefused()
	}
	return err
}

// apply is reload's work, under d.mu.
func (d *daemon) apply(ctx context.Context) error {
	cfg, err := loadSettled(ctx, d.path, func(file string, ago time.Duration) {
		what := "the configuration file"
		if file != d.path {
			what = "a secret file (${file:})"
		}
		d.log.Info(what+" changed just now: reading it once it has not changed for "+configSettleTime.String(),
			"file", file, "changed", ago.Round(time.Millisecond).String()+" ago")
	})
	if err != nil {
		return err
	}
	if err := restartOnlyChanges(d.cfg, cfg); err != nil {
		return fmt.Errorf("%s: %w", d.path, err)
	}
	sealer, err := seal.New(cfg.SessionKeys)
	if err != nil {
		return fmt.Errorf("session_keys: %w", err)
	}
	// The provider is built (its keys opened under the new session keys,
	// nothing written) before anything is applied, so that a provider that
	// cannot start refuses the reload whole, and a reload refused later
	// leaves the keys as the running configuration sealed them.
	prov, err := d.buildProvider(ctx, cfg, sealer, (*oidcprovider.Provider).Check)
	if err != nil {
		return fmt.Errorf("provider: %w", err)
	}
	if prov != nil {
		prov.KeepLimits(d.prov)
	}
	if err := configure(ctx, d.host, d.path, cfg); err != nil {
		return err
	}
	d.srv.SetSecrets(cfg.APIKeys, sealer)
	// With the connectors, before the provider's keys are made ready (up to
	// the store's timeout and 30 s): a connector the reload set to keep its
	// tokens had finished sign-ins without keeping them meanwhile.
	d.srv.SetTokenStorage(tokenStorage(cfg, d.log))
	warnKeys(cfg, d.log)
	d.mountProvider(cfg, prov)
	d.prov = prov
	if prov != nil {
		// Applied: the keys may now be made, or sealed under the first
		// session key, as at a start; a failure is tried again at the
		// provider's next use.
		kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Store.Timeout+30*time.Second)
		if err := prov.Ready(kctx); err != nil {
			d.log.Warn("provider: the signing keys could not be made ready; tried again at their next use", "error", err.Error())
		}
		cancel()
	}
	// Not canceled with an admin request that goes away: the reload is applied,
	// and so must be the record of what it removed (the store's deadline bounds it).
	if err := d.srv.SetConnectors(context.WithoutCancel(ctx), connectorIDs(cfg)); err != nil {
		// The reload is applied; only the removal's record is missing.
		d.log.Warn("connectors", "error", err.Error())
	}
	changes := reloadChanges(d.cfg, cfg)
	d.cfg = cfg
	d.metrics.ConfigApplied(time.Now())
	d.log.Info("configuration reloaded", append([]any{"connectors", len(cfg.Instances)}, changes...)...)
	return nil
}

// reloadFromAPI is reload for POST /v1/admin/reload: a refusal is logged as
// SIGHUP's is, since the answer goes only to whoever asked (and `curl -f`
// drops its body).
func (d *daemon) reloadFromAPI(ctx context.Context) error {
	// Once asked, the reload runs to its end whether or not the caller waits
	// for the answer: a client that gave up (its own timeout while the file
	// settled, a closed terminal) had the reload refused midway, "context
	// canceled", as though the file were at fault. Each call to a plugin keeps
	// its own deadline.
	err := d.reload(context.WithoutCancel(ctx))
	if err != nil {
		d.log.Error("configuration reload refused; the old configuration keeps serving", "error", err, "by", "POST /v1/admin/reload")
	}
	return err
}

// warnKeys says what the API keys leave open: a plain key may do everything
// (its meaning for one more release), and no key closes /v1.
func warnKeys(cfg *config.Config, log hclog.Logger) {
	if n := cfg.PlainAPIKeys(); n > 0 {
		log.Warn("api_keys written as plain strings may do everything on every connector, refresh tokens included; "+
			"give each {key, scopes, connectors} (a plain string will mean no scope in the next release)", "plain_keys", n)
	}
	if len(cfg.APIKeys) == 0 {
		log.Info("/v1 is closed: no api_keys are configured")
	}
}

// buildProvider makes the OpenID Provider of cfg (nil when cfg has no provider
// section), and has keys look at its signing keys: Ready at a start (made in
// the store on the first, read on every later one and by every replica),
// Check at a reload, which writes nothing until the reload is applied. It
// seals under sealer, cfg's session keys: a reload's provider is checked with
// the keys it will use (with the server's, still the old ones then, a reload
// whose keys open no signing key passed, and the provider failed once its key
// cache expired).
func (d *daemon) buildProvider(ctx context.Context, cfg *config.Config, sealer *seal.Sealer, keys func(*oidcprovider.Provider, context.Context) error) (*oidcprovider.Provider, error) {
	if cfg.Provider == nil {
		return nil, nil
	}
	publicURL, _ := url.Parse(cfg.PublicURL) // checked by config
	p, err := oidcprovider.New(oidcprovider.Options{
		Config:       cfg.Provider,
		PublicPath:   strings.TrimSuffix(publicURL.Path, "/"),
		Store:        d.store,
		Sealer:       func() *seal.Sealer { return sealer },
		Targets:      server.Targets(d.host),
		Mappings:     server.Mappings(d.host),
		AllInstances: server.AllInstances(d.host),
		RemovedAt:    d.srv.ConnectorRemovedAt,
		Sources:      d.srv.ConnectorSources,
		Browser:      d.srv.ProviderBrowser(),
		RequestTTL:   cfg.SessionTTL,
		Logger:       d.log.Named("oidc"),
		OnEvent:      d.metrics.ProviderEvent,
	})
	if err != nil {
		return nil, err
	}
	kctx, cancel := context.WithTimeout(ctx, cfg.Store.Timeout+30*time.Second)
	defer cancel()
	if err := keys(p, kctx); err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	return p, nil
}

// mountProvider serves p under its issuer's path; a nil p unmounts.
func (d *daemon) mountProvider(cfg *config.Config, p *oidcprovider.Provider) {
	if p == nil {
		d.srv.MountProvider("", nil)
		return
	}
	// The connectors it serves are configured by now: its grants carry
	// their digest (see Settle).
	p.Settle()
	d.srv.MountProvider(cfg.Provider.IssuerPath, p)
	d.log.Info("OpenID Provider ready", "issuer", p.Issuer(), "clients", len(cfg.Provider.Clients))
}

// restartOnlyChanges refuses a reload that changes what only a restart can apply.
func restartOnlyChanges(old, cfg *config.Config) error {
	var changed []string
	oldStore, oldVault := stateSettings(old)
	newStore, newVault := stateSettings(cfg)
	for _, f := range []struct {
		name     string
		old, new any
	}{
		{"listen", old.Listen, cfg.Listen},
		{"admin_listen", old.AdminListen, cfg.AdminListen},
		{"public_url", old.PublicURL, cfg.PublicURL},
		{"plugin_dir", old.PluginDir, cfg.PluginDir},
		{"call_timeout", old.CallTimeout, cfg.CallTimeout},
		{"session_ttl", old.SessionTTL, cfg.SessionTTL},
		{"log_level", old.LogLevel, cfg.LogLevel},
		{"log_format", old.LogFormat, cfg.LogFormat},
		{"store", oldStore, newStore},
		{"vault_keys", oldVault, newVault},
		{"sandbox", fmt.Sprint(old.Sandbox), fmt.Sprint(cfg.Sandbox)},
		{"plugin_user", old.PluginUser, cfg.PluginUser},
		{"http", fmt.Sprint(old.HTTP), fmt.Sprint(cfg.HTTP)}, // holds a list: not comparable
		{"metrics", old.Metrics, cfg.Metrics},
		{"tracing", old.Tracing, cfg.Tracing},
	} {
		if f.old != f.new {
			changed = append(changed, f.name)
		}
	}
	// The running server's browser sessions were given their lifetime at
	// start; a reload that needs another would leave sso_ttl silently unmet.
	if browserSessionTTL(old) != browserSessionTTL(cfg) {
		changed = append(changed, "provider.sso_ttl")
	}
	if len(changed) > 0 {
		slices.Sort(changed)
		return fmt.Errorf("%v changed: these settings need a restart", changed)
	}
	return nil
}

// browserSessionTTL is how long a browser stays signed in: 8 hours, or the
// OpenID Provider's sso_ttl when longer. The provider's single sign-on is that
// browser session, so a shorter session would cut sso_ttl short.
func browserSessionTTL(cfg *config.Config) time.Duration {
	if cfg.Provider != nil && cfg.Provider.SSOTTL > server.DefaultUserSessionTTL {
		return cfg.Provider.SSOTTL
	}
	return server.DefaultUserSessionTTL
}

// scanConcurrency is how many plugins the folder's scan starts at once.
const scanConcurrency = 4

// openHost starts the plugins and configures every connector instance; it fails
// with every problem listed when an instance is invalid.
// hostPorts are idplug's own listening ports, which no plugin may reach.
func openHost(ctx context.Context, path string, cfg *config.Config, log hclog.Logger, m *metrics.Metrics, watch bool, tr *tracing.Tracing, hostPorts []uint16) (*host.Host, error) {
	policy, err := sandboxPolicy(cfg, hostPorts)
	if err != nil {
		return nil, err
	}
	// A plugin runs only while a connector needs it: the scan starts each one
	// briefly for its metadata, a few at a time, so a folder of many plugins
	// (the Logto bundle holds eight) never has them all in memory at once.
	opts := host.Options{PluginDir: cfg.PluginDir, CallTimeout: cfg.CallTimeout, Logger: log, Watch: watch, Sandbox: policy,
		OnDemand: true, StartConcurrency: scanConcurrency, Tracing: tr}
	if m != nil {
		opts.OnCall = m.ObserveCall
		opts.OnRestart = m.PluginRestarted
		opts.OnEgressRefused = m.EgressRefused
	}
	h, err := host.Open(ctx, opts)
	if err != nil {
		return nil, err
	}
	// At start (and validate) only: a reload cannot change the sandbox, and
	// a plugin removed from the live folder would then block every reload.
	if err := sandboxKeysMatch(h, cfg); err != nil {
		h.Close()
		return nil, err
	}
	if err := configure(ctx, h, path, cfg); err != nil {
		h.Close()
		return nil, err
	}
	return h, nil
}

// configure applies cfg's connector instances. The problems the plugins find
// point into the file at path, like the file's own problems do.
func configure(ctx context.Context, h *host.Host, path string, cfg *config.Config) error {
	err := h.Configure(ctx, connectorConfigs(cfg))
	var ve *host.ValidationError
	if errors.As(err, &ve) {
		ve.Locate(path, func(index int, field string) int {
			if index < 0 || index >= len(cfg.Instances) {
				return 0
			}
			return cfg.Instances[index].LineOf(field)
		})
	}
	return err
}

// sandboxKeysMatch refuses a sandbox read, exec or egress_allow key that names
// no plugin file of the folder (refused ones included): a misspelt
// egress_allow key narrows nothing, and the plugin it meant keeps every host
// its metadata declares.
func sandboxKeysMatch(h *host.Host, cfg *config.Config) error {
	var names []string
	for _, p := range h.Catalog() {
		names = append(names, strings.TrimPrefix(p.File, catalog.Prefix))
	}
	for _, e := range h.Refused() {
		if name, ok := strings.CutPrefix(e.File, catalog.Prefix); ok {
			names = append(names, name)
		}
	}
	p := sandbox.Policy{Read: cfg.Sandbox.Read, Exec: cfg.Sandbox.Exec, EgressAllow: cfg.Sandbox.EgressAllow}
	if keys := sandbox.UnmatchedKeys(p, names); len(keys) > 0 {
		slices.Sort(names)
		return fmt.Errorf("sandbox.%s: names no plugin of the folder (plugins: %s); a misspelt key narrows or grants nothing",
			strings.Join(keys, ", sandbox."), termLine(strings.Join(slices.Compact(names), ", ")))
	}
	return nil
}

// sandboxPolicy turns the sandbox settings into the host's policy; a plugin_user
// is refused unless idplug runs as root.
func sandboxPolicy(cfg *config.Config, hostPorts []uint16) (sandbox.Policy, error) {
	p := sandbox.Policy{Mode: sandbox.Mode(cfg.Sandbox.Mode), Read: cfg.Sandbox.Read, Exec: cfg.Sandbox.Exec,
		Egress: sandbox.Egress(cfg.Sandbox.Egress), EgressAllow: cfg.Sandbox.EgressAllow, HostPorts: hostPorts}
	if cfg.PluginUser != "" {
		u, err := sandbox.LookupUser(cfg.PluginUser)
		if err != nil {
			return p, err
		}
		p.User = u
	}
	return p, nil
}

// boundPorts are the ports the listeners got (a port 0 in the file included).
func boundPorts(lis ...net.Listener) []uint16 {
	var out []uint16
	for _, l := range lis {
		if l == nil {
			continue
		}
		if a, ok := l.Addr().(*net.TCPAddr); ok {
			out = append(out, uint16(a.Port))
		}
	}
	return out
}

// listenPorts are the TCP ports the file says idplug listens on, for commands
// that do not listen themselves.
func listenPorts(cfg *config.Config) []uint16 {
	var out []uint16
	for _, addr := range []string{cfg.Listen, cfg.AdminListen} {
		if _, port, err := net.SplitHostPort(addr); err == nil {
			if n, err := strconv.ParseUint(port, 10, 16); err == nil && n > 0 {
				out = append(out, uint16(n))
			}
		}
	}
	return out
}

func connectorConfigs(cfg *config.Config) []host.InstanceConfig {
	conns := make([]host.InstanceConfig, len(cfg.Instances))
	for i, c := range cfg.Instances {
		conns[i] = host.InstanceConfig{
			ID: c.ID, Plugin: c.Plugin, Target: c.Target,
			Name: c.Name, Logo: c.Logo, LogoDark: c.LogoDark, Config: c.Config, Mapping: c.Mapping,
		}
	}
	return conns
}

// loadConfig parses the --config flag of a subcommand and loads the file; on failure
// it returns a nil config and the exit code, having said why.
func loadConfig(cmd string, args []string, stderr io.Writer, flags ...func(*flag.FlagSet)) (string, *config.Config, int) {
	path, code := parseFlags(cmd, args, stderr, flags...)
	if code != 0 {
		return "", nil, code
	}
	return loadConfigFile(path, stderr)
}

// parseFlags parses a subcommand's flags, --config and its own; on failure
// it returns the exit code, having said why.
func parseFlags(cmd string, args []string, stderr io.Writer, flags ...func(*flag.FlagSet)) (string, int) {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "idplug.yaml", "the configuration file")
	for _, f := range flags {
		f(fs) // a command's own flags
	}
	if err := fs.Parse(args); err != nil {
		return "", 2
	}
	// `idplug validate prod.yaml` had checked ./idplug.yaml and said ok.
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "idplug %s: unexpected argument %q; the configuration file is given with --config FILE\n", cmd, fs.Arg(0))
		return "", 2
	}
	return *path, 0
}

// loadConfigFile loads the configuration at path, as loadConfig does.
func loadConfigFile(path string, stderr io.Writer) (string, *config.Config, int) {
	cfg, err := config.Load(path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return "", nil, 1
	}
	return path, cfg, 0
}

// jsonLines escapes, in the JSON lines written to w, what encoding/json
// leaves as it is and a terminal acts on: the C1 controls and the
// bidirectional ones. A request's path or a plugin's logged value carrying
// them had reached the log raw, for whoever reads it in a terminal
// (`kubectl logs`, `journalctl`); text lines are escaped where they are made.
type jsonLines struct{ w io.Writer }

func (j jsonLines) Write(b []byte) (int, error) {
	if _, err := j.w.Write(printable.JSON(b)); err != nil {
		return 0, err
	}
	return len(b), nil
}

func newLogger(cfg *config.Config, out io.Writer) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:       "idplug",
		Level:      hclog.LevelFromString(cfg.LogLevel),
		Output:     out,
		JSONFormat: cfg.LogFormat == "json",
	})
}
