package sdk

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
	plugin "github.com/hashicorp/go-plugin"
	"github.com/idplug/idplug/internal/gcpercent"
	"github.com/idplug/idplug/internal/procs"
	"github.com/idplug/idplug/internal/wire"
	connectorv1 "github.com/idplug/idplug/proto/gen/idplug/connector/v1"
	"google.golang.org/grpc"
)

// Serve runs c as an idplug plugin until the host stops it, and never returns normally.
// Call it from main. Run by hand, outside a host, it explains what it is and exits.
func Serve[C any](c Connector[C], opts ...ServeOption) {
	o := serveOptions{parentCheck: time.Second, adaptiveProcs: true, gcHeadroom: DefaultGCHeadroom}
	for _, opt := range opts {
		opt(&o)
	}
	switch {
	case o.gcPercent != nil:
		gcpercent.Set(*o.gcPercent)
	case o.gcHeadroom > 0:
		gcpercent.KeepHeadroom(o.gcHeadroom)
	}
	log := newPluginLogger(os.Stderr, levelFromEnv())
	var extra []grpc.UnaryServerInterceptor
	if o.adaptiveProcs {
		if t := procs.Start(context.Background()); t != nil {
			extra = append(extra, countCalls(t))
		}
	}
	cfg, err := serveConfig(c, log, extra...)
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
	gcPercent     *int   // set by WithGCPercent; wins over gcHeadroom
	gcHeadroom    uint64 // 0: Go's default target
	adaptiveProcs bool
}

// WithParentCheck sets how often the plugin checks that its host is still alive
// (default one second); zero turns the check off.
func WithParentCheck(every time.Duration) ServeOption {
	return func(o *serveOptions) { o.parentCheck = every }
}

// DefaultGCHeadroom is how far Serve lets a plugin's heap grow over its live
// memory before the garbage collector runs, when that is more than Go's default
// (which lets it double). A plugin keeps a few MiB live and allocates on every
// call, so at Go's default it collects dozens of times a second under load; with
// this headroom a sign-in through the oauth2 plugin costs about a quarter less
// plugin CPU, and a plugin with a large live heap (thousands of instances) keeps
// Go's default (internal/gcpercent; BENCHMARKS.md, "Runtime settings").
const DefaultGCHeadroom = 16 << 20

// WithGCPercent fixes the garbage collector's target instead, as GOGC does (100
// is Go's default; a negative value turns the collector off). A GOGC variable in
// the plugin's environment wins over both.
func WithGCPercent(percent int) ServeOption {
	return func(o *serveOptions) { o.gcPercent, o.gcHeadroom = &percent, 0 }
}

// WithGCHeadroom lets the heap grow by about bytes over live memory before the
// garbage collector runs, and never by less than Go's default; zero keeps Go's
// default target.
func WithGCHeadroom(bytes uint64) ServeOption {
	return func(o *serveOptions) { o.gcPercent, o.gcHeadroom = nil, bytes }
}

// WithAdaptiveProcs turns on or off (it is on by default) running the plugin on one
// P while it serves one call at a time, and on all of them as soon as calls
// overlap: see internal/procs for why. Turn it off for a connector that
// does parallel CPU work inside a single call. A GOMAXPROCS variable in the
// plugin's environment turns it off too.
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
func serveConfig[C any](c Connector[C], log *slog.Logger, extra ...grpc.UnaryServerInterceptor) (*plugin.ServeConfig, error) {
	if err := validateMetadata(c.Metadata()); err != nil {
		return nil, err
	}
	srv, err := newGRPCServer(c, log)
	if err != nil {
		return nil, err
	}
	interceptors := append(extra, recoverPanics(log))
	return &plugin.ServeConfig{
		HandshakeConfig: wire.Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{
			wire.ProtocolVersion: {wire.PluginName: &grpcPlugin{register: func(s *grpc.Server) {
				connectorv1.RegisterConnectorServiceServer(s, srv)
			}}},
		},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
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
		return // started by init or by hand for debugging: nothing to watch
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
	if err := ce.Err(); err != nil {
		return fmt.Errorf("invalid metadata: %w", err)
	}
	return nil
}
