package sdk

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	plugin "github.com/hashicorp/go-plugin"
	"github.com/idplug/idplug/internal/gcpercent"
	"github.com/idplug/idplug/internal/procs"
	"github.com/idplug/idplug/internal/wire"
	connectorv1 "github.com/idplug/idplug/proto/gen/idplug/connector/v1"
	"github.com/idplug/idplug/sdk/internal/traces"
	"google.golang.org/grpc"
)

// Serve runs c as an idplug plugin until the host stops it, and never returns normally.
// Call it from main. Run by hand, outside a host, it explains what it is and exits.
//
// By default the plugin runs with Go's own runtime settings. Two options tune the
// runtime for a connector shaped like the bundled ones (a few MiB live, an
// allocation-heavy call, mostly waiting on the provider): WithAdaptiveProcs(true)
// pays while calls come one at a time, and WithGCHeadroom pays most when many run
// at once, for some MiB of memory. The bundled plugins turn both on:
//
//	sdk.Serve(c, sdk.WithAdaptiveProcs(true), sdk.WithGCHeadroom(sdk.DefaultGCHeadroom))
//
// BENCHMARKS.md, "Runtime settings", has the figures.
func Serve[C any](c Connector[C], opts ...ServeOption) {
	hideProcess()
	o := newServeOptions(opts)
	switch {
	case o.gcPercent != nil:
		gcpercent.Set(*o.gcPercent)
	case o.gcHeadroom > 0:
		gcpercent.KeepHeadroom(o.gcHeadroom)
	}
	log := newPluginLogger(os.Stderr, levelFromEnv())
	pluginLogger.Store(log)
	var extra []grpc.UnaryServerInterceptor
	if o.adaptiveProcs {
		if t := procs.Start(context.Background()); t != nil {
			extra = append(extra, countCalls(t))
		}
	}
	cfg, err := serveConfig(c, log, startTraces(c.Metadata().ID), extra...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "idplug plugin:", err)
		os.Exit(1)
	}
	if o.parentCheck > 0 {
		go exitWithParent(log, o.parentCheck)
	}
	plugin.Serve(cfg)
	os.Exit(0)
}

// ServeOption changes how Serve runs.
type ServeOption func(*serveOptions)

type serveOptions struct {
	parentCheck   time.Duration
	gcPercent     *int   // set by WithGCPercent; nil: gcHeadroom decides
	gcHeadroom    uint64 // 0: Go's default target
	adaptiveProcs bool
}

// newServeOptions applies opts, in order, over the defaults.
func newServeOptions(opts []ServeOption) serveOptions {
	o := serveOptions{parentCheck: time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithParentCheck sets how often the plugin checks that its host is still alive
// (default one second); zero turns the check off.
func WithParentCheck(every time.Duration) ServeOption {
	return func(o *serveOptions) { o.parentCheck = every }
}

// DefaultGCHeadroom is the headroom the bundled plugins pass to WithGCHeadroom:
// 16 MiB, GOGC 400 for a heap of 4 MiB live or less.
const DefaultGCHeadroom = 16 << 20

// WithGCHeadroom lets the plugin's heap grow by about bytes over its live memory
// before the garbage collector runs, whenever that is more than Go's default
// (which lets the heap double); the percent is retuned after every collection, so
// a plugin with a large live heap (thousands of instances) keeps Go's default.
// Zero keeps Go's default target, as does leaving the option out.
//
// A plugin that keeps a few MiB live and allocates on every call collects dozens
// of times a second under load at Go's default. At Go's default the oauth2 plugin
// used 1.05x to 1.24x the CPU per sign-in it used with DefaultGCHeadroom at 16
// concurrent sign-ins, and 1.00x to 1.08x one at a time; with the headroom it held
// about 12 MiB more resident memory once it had been busy. The last of
// WithGCHeadroom and WithGCPercent wins; a GOGC variable in the plugin's
// environment wins over both.
func WithGCHeadroom(bytes uint64) ServeOption {
	return func(o *serveOptions) { o.gcPercent, o.gcHeadroom = nil, bytes }
}

// WithGCPercent fixes the garbage collector's target instead, as GOGC does (100
// is Go's default; a negative value turns the collector off). The last of
// WithGCPercent and WithGCHeadroom wins; a GOGC variable in the plugin's
// environment wins over both.
func WithGCPercent(percent int) ServeOption {
	return func(o *serveOptions) { o.gcPercent, o.gcHeadroom = &percent, 0 }
}

// WithAdaptiveProcs turns on (it is off by default) running the plugin on one P
// while it serves one call at a time, and on all of them as soon as calls overlap
// (down again after 100 ms without overlap). With one call in flight a plugin's
// goroutines hand the call to one another in turn, and every extra P only adds
// threads that wake up, spin and sleep: without the option the oauth2 plugin used
// 1.06x to 1.36x the CPU per sign-in and completed 0.82x to 0.94x the sign-ins a
// second when they came one at a time; at 16 concurrent sign-ins it measured the
// same either way. Leave it off for a connector that does parallel CPU work inside
// a single call, which it would confine to one P. A GOMAXPROCS variable in the
// plugin's environment turns it off.
func WithAdaptiveProcs(on bool) ServeOption {
	return func(o *serveOptions) { o.adaptiveProcs = on }
}

// countCalls counts the calls in flight for t.
func countCalls(t *procs.Tuner) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		t.Enter()
		defer t.Leave()
		return handler(ctx, req)
	}
}

// serveConfig builds the go-plugin configuration that serves c.
// extra interceptors run first, around the panic recovery.
// rec, when tracing is on, records spans and serves them to the host.
func serveConfig[C any](c Connector[C], log *slog.Logger, rec *traces.Recorder, extra ...grpc.UnaryServerInterceptor) (*plugin.ServeConfig, error) {
	if err := validateMetadata(c.Metadata()); err != nil {
		return nil, err
	}
	srv, err := newGRPCServer(c, log)
	if err != nil {
		return nil, err
	}
	interceptors := append(extra, connectorInterceptors(log)...)
	return &plugin.ServeConfig{
		HandshakeConfig: wire.Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{
			wire.ProtocolVersion: {wire.PluginName: &grpcPlugin{register: func(s *grpc.Server) {
				connectorv1.RegisterConnectorServiceServer(s, srv)
				if rec != nil {
					connectorv1.RegisterTraceServiceServer(s, traceServer{rec: rec})
				}
			}}},
		},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			// On a goroutine of its own (gRPC's default) every call grows its
			// stack afresh; workers keep theirs (BENCHMARKS.md, "Stream workers").
			opts = append(opts, grpc.NumStreamWorkers(streamWorkers))
			opts = append(opts, flowControl()...)
			opts = append(opts, traceServerOptions(rec)...)
			return grpc.NewServer(append(opts, grpc.ChainUnaryInterceptor(interceptors...))...)
		},
		// go-plugin's own lines, in the same JSON shape as the author's logger.
		Logger: hclog.New(&hclog.LoggerOptions{
			Level:      hclog.LevelFromString(os.Getenv(wire.EnvLogLevel)),
			Output:     os.Stderr,
			JSONFormat: true,
		}),
	}, nil
}

// streamWorkers serve a plugin's calls; more at once get goroutines of their own.
const streamWorkers = 16

// flowControl fixes the connection's HTTP/2 windows (wire.WindowSize): with
// gRPC's dynamic ones, the plugin answers the first request data of a call with a
// bandwidth probe the host must wake up for.
func flowControl() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.StaticStreamWindowSize(wire.WindowSize), grpc.StaticConnWindowSize(wire.WindowSize)}
}

// grpcPlugin is the plugin side of go-plugin's GRPCPlugin.
type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	register func(*grpc.Server)
}

func (p *grpcPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	p.register(s)
	return nil
}

func (p *grpcPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, fmt.Errorf("the SDK serves connectors; hosts dial them")
}

// exitWithParent ends the plugin when its host dies. go-plugin does not: a host killed
// with SIGKILL would otherwise leave its plugins running forever.
func exitWithParent(log *slog.Logger, every time.Duration) {
	parent := os.Getppid()
	if parent <= 1 {
		// Started by init or by hand for debugging, or the first process of a
		// PID namespace (idplug's sandbox), whose parent is outside it: the
		// host's parent-death signal ends that one.
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for range t.C {
		if os.Getppid() != parent {
			log.Warn("host process is gone; exiting", "host_pid", parent)
			os.Exit(3)
		}
	}
}

func validateMetadata(m Metadata) error {
	var ce ConfigError
	if m.ID == "" {
		ce.Add("id", "is required")
	}
	if m.Name["en"] == "" {
		ce.Add("name.en", "is required")
	}
	if m.Description["en"] == "" {
		ce.Add("description.en", "is required")
	}
	if _, ok := platforms.toWire[m.Platform]; !ok && m.Platform != "" {
		ce.Add("platform", "must be Universal, Web or Native, not %q", m.Platform)
	}
	seen := map[string]bool{}
	for i, f := range m.FormItems {
		if f.Key == "" {
			ce.Add(fmt.Sprintf("formItems[%d].key", i), "is required")
		} else if seen[f.Key] {
			ce.Add(fmt.Sprintf("formItems[%d].key", i), "%q is used twice", f.Key)
		}
		seen[f.Key] = true
		if _, ok := formItemTypes.toWire[f.Type]; !ok {
			ce.Add(fmt.Sprintf("formItems[%d].type", i), "unknown form item type %q", f.Type)
		}
	}
	for i, h := range m.EgressHosts {
		if err := checkEgressHost(h); err != nil {
			ce.Add(fmt.Sprintf("egressHosts[%d]", i), "%v", err)
		}
	}
	if err := ce.Err(); err != nil {
		return fmt.Errorf("invalid metadata: %w", err)
	}
	return nil
}

// checkEgressHost accepts "host" or "host:port": a DNS name or an IP address,
// nothing else (no scheme, path or wildcard).
func checkEgressHost(s string) error {
	host, port := s, ""
	if h, p, err := net.SplitHostPort(s); err == nil {
		host, port = h, p
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%q: the port must be a number from 1 to 65535", s)
		}
	}
	if host == "" || strings.ContainsAny(host, "/*@?# ") || strings.Contains(host, "://") {
		return fmt.Errorf("%q is not a host or host:port (like api.github.com or api.github.com:443)", s)
	}
	return nil
}
