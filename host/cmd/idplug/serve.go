package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	stdlog "log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/host/config"
	"github.com/idplug/idplug/host/logsink"
	"github.com/idplug/idplug/host/metrics"
	"github.com/idplug/idplug/host/oidcprovider"
	"github.com/idplug/idplug/host/sandbox"
	"github.com/idplug/idplug/host/seal"
	"github.com/idplug/idplug/host/server"
	"github.com/idplug/idplug/host/store"
	"github.com/idplug/idplug/host/tracing"
	"github.com/idplug/idplug/internal/gcpercent"
	"github.com/idplug/idplug/internal/procs"
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

	mu  sync.Mutex // one reload at a time
	cfg *config.Config
}

func serveCmd(args []string, stdout, stderr io.Writer) int {
	path, cfg, code := loadConfig("serve", args, stderr)
	if cfg == nil {
		return code
	}
	gcpercent.KeepHeadroom(serveGCHeadroom)
	// Every request's line goes out in batches; every other line at once.
	sink := logsink.New(stderr, 0, 0)
	defer sink.Close()
	log := newLogger(cfg, sink.Direct())
	m := metrics.New()
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
	h, err := openHost(ctx, cfg, log, m, true, tr)
	if err != nil {
		log.Error("cannot start", "error", err)
		fmt.Fprintln(stderr, err)
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
	st, err := openStore(ctx, cfg, m)
	if err != nil {
		log.Error("cannot open the store", "error", err)
		fmt.Fprintln(stderr, err)
		return 1
	}
	if st != nil {
		defer st.Close()
		startPurge(ctx, st, log.Named("store"))
		log.Info("store opened", "backend", st.Backend(), "schema", store.SchemaVersion())
	}
	d := &daemon{path: path, log: log, host: h, cfg: cfg, store: st, metrics: m}
	publicURL, _ := url.Parse(cfg.PublicURL) // checked by config
	d.srv = server.New(h, sealer, m, log.Named("http"), server.Settings{
		AccessLog: newLogger(cfg, sink.Buffered()).Named("http"),
		PublicURL: publicURL,
		APIKeys:   cfg.APIKeys,
		FlowTTL:   cfg.SessionTTL,
		Reload:    d.reload,
		Store:     st,
		Vault:     vlt,
		// With admin_listen, /metrics and the detailed /readyz move there.
		SeparateAdmin: cfg.AdminListen != "",
		Tracing:       tr,
	})
	d.srv.SetTokenStorage(tokenStorage(cfg, log))
	prov, err := d.buildProvider(ctx, cfg)
	if err != nil {
		log.Error("cannot start the OpenID Provider", "error", err)
		fmt.Fprintln(stderr, "provider:", err)
		return 1
	}
	d.mountProvider(cfg, prov)
	lis, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		fmt.Fprintln(stderr, "listen:", err)
		return 1
	}
	// One P while requests come one at a time (see internal/procs).
	tuner := procs.Start(ctx)
	httpSrv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tuner.Enter()
			defer tuner.Leave()
			d.srv.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      cfg.CallTimeout + 30*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		// net/http's own lines (a panic in a handler, TLS errors) through the
		// direct side too, so that they stay in order with the rest.
		ErrorLog: log.Named("http").StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}),
	}
	errc := make(chan error, 2)
	adminSrv, adminAddr, err := serveAdmin(cfg, d.srv.AdminHandler(), httpSrv.ErrorLog, errc)
	if err != nil {
		fmt.Fprintln(stderr, "admin_listen:", err)
		return 1
	}
	log.Info("idplug is listening", "address", lis.Addr().String(), "public_url", cfg.PublicURL,
		"admin_address", adminAddr, "connectors", len(h.Instances()), "plugins", len(h.Plugins()), "pid", os.Getpid())
	go func() { errc <- httpSrv.Serve(lis) }()

	for {
		select {
		case err := <-errc:
			log.Error("http server stopped", "error", err)
			return 1
		case <-hup:
			if err := d.reload(ctx); err != nil {
				log.Error("configuration reload refused; the old configuration keeps serving", "error", err)
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

// serveAdmin starts the admin listener (/metrics, the detailed /readyz) when
// admin_listen is set; its end is reported on errc.
func serveAdmin(cfg *config.Config, h http.Handler, errLog *stdlog.Logger, errc chan<- error) (*http.Server, string, error) {
	if cfg.AdminListen == "" {
		return nil, "", nil
	}
	lis, err := net.Listen("tcp", cfg.AdminListen)
	if err != nil {
		return nil, "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 16 << 10, ErrorLog: errLog}
	go func() { errc <- srv.Serve(lis) }()
	return srv, lis.Addr().String(), nil
}

// reload reads the configuration file again and applies its connectors, API keys
// and session keys. A file that does not load, changes a setting that needs a
// restart, or has an invalid connector is refused whole: the old configuration
// keeps serving.
func (d *daemon) reload(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	cfg, err := config.Load(d.path)
	if err != nil {
		return err
	}
	if err := restartOnlyChanges(d.cfg, cfg); err != nil {
		return err
	}
	sealer, err := seal.New(cfg.SessionKeys)
	if err != nil {
		return fmt.Errorf("session_keys: %w", err)
	}
	// The provider is built (its keys read) before anything is applied, so
	// that a provider that cannot start refuses the reload whole.
	prov, err := d.buildProvider(ctx, cfg)
	if err != nil {
		return fmt.Errorf("provider: %w", err)
	}
	if err := d.host.Configure(ctx, connectorConfigs(cfg)); err != nil {
		return err
	}
	d.srv.SetSecrets(cfg.APIKeys, sealer)
	d.mountProvider(cfg, prov)
	d.srv.SetTokenStorage(tokenStorage(cfg, d.log))
	d.cfg = cfg
	d.log.Info("configuration reloaded", "connectors", len(cfg.Instances))
	return nil
}

// buildProvider makes the OpenID Provider of cfg (nil when cfg has no provider
// section), with its signing keys ready: made in the store on first start, read
// from it on every later one and by every replica.
func (d *daemon) buildProvider(ctx context.Context, cfg *config.Config) (*oidcprovider.Provider, error) {
	if cfg.Provider == nil {
		return nil, nil
	}
	publicURL, _ := url.Parse(cfg.PublicURL) // checked by config
	p, err := oidcprovider.New(oidcprovider.Options{
		Config:       cfg.Provider,
		PublicPath:   strings.TrimSuffix(publicURL.Path, "/"),
		Store:        d.store,
		Sealer:       d.srv.Sealer,
		Targets:      server.Targets(d.host),
		AllInstances: server.AllInstances(d.host),
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
	if err := p.Ready(kctx); err != nil {
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
		{"tracing", old.Tracing, cfg.Tracing},
	} {
		if f.old != f.new {
			changed = append(changed, f.name)
		}
	}
	if len(changed) > 0 {
		slices.Sort(changed)
		return fmt.Errorf("%v changed: these settings need a restart", changed)
	}
	return nil
}

// openHost starts the plugins and configures every connector instance; it fails
// with every problem listed when an instance is invalid.
func openHost(ctx context.Context, cfg *config.Config, log hclog.Logger, m *metrics.Metrics, watch bool, tr *tracing.Tracing) (*host.Host, error) {
	policy, err := sandboxPolicy(cfg)
	if err != nil {
		return nil, err
	}
	opts := host.Options{PluginDir: cfg.PluginDir, CallTimeout: cfg.CallTimeout, Logger: log, Watch: watch, Sandbox: policy, Tracing: tr}
	if m != nil {
		opts.OnCall = m.ObserveCall
		opts.OnRestart = m.PluginRestarted
	}
	h, err := host.Open(ctx, opts)
	if err != nil {
		return nil, err
	}
	if err := h.Configure(ctx, connectorConfigs(cfg)); err != nil {
		h.Close()
		return nil, err
	}
	return h, nil
}

// sandboxPolicy turns the sandbox settings into the host's policy; a plugin_user
// is refused unless idplug runs as root.
func sandboxPolicy(cfg *config.Config) (sandbox.Policy, error) {
	p := sandbox.Policy{Mode: sandbox.Mode(cfg.Sandbox.Mode), Read: cfg.Sandbox.Read, Exec: cfg.Sandbox.Exec}
	if cfg.PluginUser != "" {
		u, err := sandbox.LookupUser(cfg.PluginUser)
		if err != nil {
			return p, err
		}
		p.User = u
	}
	return p, nil
}

func connectorConfigs(cfg *config.Config) []host.InstanceConfig {
	conns := make([]host.InstanceConfig, len(cfg.Instances))
	for i, c := range cfg.Instances {
		conns[i] = host.InstanceConfig{
			ID: c.ID, Plugin: c.Plugin, Target: c.Target,
			Name: c.Name, Logo: c.Logo, LogoDark: c.LogoDark, Config: c.Config,
		}
	}
	return conns
}

// loadConfig parses the --config flag of a subcommand and loads the file; on failure
// it returns a nil config and the exit code, having said why.
func loadConfig(cmd string, args []string, stderr io.Writer) (string, *config.Config, int) {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "idplug.yaml", "the configuration file")
	if err := fs.Parse(args); err != nil {
		return "", nil, 2
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return "", nil, 1
	}
	return *path, cfg, 0
}

func newLogger(cfg *config.Config, out io.Writer) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:       "idplug",
		Level:      hclog.LevelFromString(cfg.LogLevel),
		Output:     out,
		JSONFormat: cfg.LogFormat == "json",
	})
}
