package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os/signal"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/host/config"
	"github.com/idplug/idplug/host/metrics"
	"github.com/idplug/idplug/host/seal"
	"github.com/idplug/idplug/host/server"
)

// shutdownGrace bounds how long requests in flight may take to finish on SIGTERM.
const shutdownGrace = 30 * time.Second

func serveCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "idplug.yaml", "the configuration file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	log := newLogger(cfg, stderr)
	m := metrics.New()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	h, err := openHost(ctx, cfg, log, m)
	if err != nil {
		log.Error("cannot start", "error", err)
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer h.Close()

	sealer, err := seal.New(cfg.SessionKeys)
	if err != nil {
		fmt.Fprintln(stderr, "session_keys:", err)
		return 1
	}
	publicURL, _ := url.Parse(cfg.PublicURL) // checked by config
	srv := server.New(h, sealer, m, log.Named("http"), server.Settings{
		PublicURL: publicURL,
		APIKeys:   cfg.APIKeys,
		FlowTTL:   cfg.SessionTTL,
	})
	lis, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		fmt.Fprintln(stderr, "listen:", err)
		return 1
	}
	httpSrv := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      cfg.CallTimeout + 30*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	log.Info("idplug is listening", "address", lis.Addr().String(), "public_url", cfg.PublicURL,
		"connectors", len(h.Connectors()), "plugins", len(h.Plugins()))
	errc := make(chan error, 1)
	go func() { errc <- httpSrv.Serve(lis) }()

	select {
	case err := <-errc:
		log.Error("http server stopped", "error", err)
		return 1
	case <-ctx.Done():
	}
	// Finish requests in flight, then stop the plugins (deferred h.Close).
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := httpSrv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("requests still in flight at shutdown", "error", err)
	}
	return 0
}

// openHost starts the plugins and configures every connector instance; it fails
// with every problem listed when an instance is invalid.
func openHost(ctx context.Context, cfg *config.Config, log hclog.Logger, m *metrics.Metrics) (*host.Host, error) {
	opts := host.Options{PluginDir: cfg.PluginDir, CallTimeout: cfg.CallTimeout, Logger: log}
	if m != nil {
		opts.OnCall = m.ObserveCall
		opts.OnRestart = m.PluginRestarted
	}
	h, err := host.Open(ctx, opts)
	if err != nil {
		return nil, err
	}
	conns := make([]host.ConnectorConfig, len(cfg.Connectors))
	for i, c := range cfg.Connectors {
		conns[i] = host.ConnectorConfig{
			ID: c.ID, Plugin: c.Plugin, Target: c.Target,
			Name: c.Name, Logo: c.Logo, LogoDark: c.LogoDark, Config: c.Config,
		}
	}
	if err := h.Configure(ctx, conns); err != nil {
		h.Close()
		return nil, err
	}
	return h, nil
}

func newLogger(cfg *config.Config, out io.Writer) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:       "idplug",
		Level:      hclog.LevelFromString(cfg.LogLevel),
		Output:     out,
		JSONFormat: cfg.LogFormat == "json",
	})
}
