package process

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	plugin "github.com/hashicorp/go-plugin"
	"github.com/hashicorp/go-plugin/runner"
	"github.com/idplug/idplug/host/catalog"
	"github.com/idplug/idplug/host/sandbox"
	"github.com/idplug/idplug/internal/sysmon"
	"github.com/idplug/idplug/internal/wire"
	connectorv1 "github.com/idplug/idplug/proto/gen/idplug/connector/v1"
	"google.golang.org/grpc"
)

// MaxReplySize bounds a reply from a plugin: a bigger one fails the call instead of
// filling the host's memory.
const MaxReplySize = 4 << 20

// launch starts a new process and completes the handshake. The plugin file is
// opened and checked once, and that open file is what the launcher executes.
func (p *Process) launch() (*conn, error) {
	file, err := catalog.Open(p.opts.PluginDir, p.path, p.checksum)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %w", p.name, err)
	}
	defer file.Close() // the launcher has its own copy once started
	if testHookVerified != nil {
		testHookVerified(p.path)
	}
	var run *cmdRunner
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  wire.Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{wire.ProtocolVersion: {wire.PluginName: &grpcPlugin{}}},
		// go-plugin makes a fresh socket folder per start inside SocketDir and
		// removes it when the process is killed; it is the only folder the
		// sandboxed plugin may write.
		UnixSocketConfig: &plugin.UnixSocketConfig{TempDir: p.opts.SocketDir},
		RunnerFunc: func(_ hclog.Logger, spec *exec.Cmd, socketDir string) (runner.Runner, error) {
			var proxy io.Closer
			egressSocket := ""
			if p.opts.EgressProxy != nil && p.opts.SandboxReport.Egress == sandbox.EgressProxy && p.opts.SandboxReport.Mode != sandbox.ModeOff {
				egressSocket = filepath.Join(socketDir, "egress.sock")
				var err error
				if proxy, err = p.opts.EgressProxy(egressSocket); err != nil {
					return nil, err
				}
			}
			cmd, err := sandbox.Command(sandbox.Launch{
				Policy: p.opts.Sandbox, Report: p.opts.SandboxReport, Name: p.name,
				File: file, Path: p.path, SocketDir: socketDir, EgressSocket: egressSocket,
				ConnectRules: p.opts.SandboxConnect,
				// The plugin gets none of the host's environment, only what it needs.
				Env: append(spec.Env, p.pluginEnv()...),
			})
			if err == nil {
				run, err = newCmdRunner(cmd, p.path)
			}
			if err != nil {
				if proxy != nil {
					proxy.Close()
				}
				return nil, err
			}
			run.onExit, run.socketDir = proxy, socketDir
			return run, nil
		},
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		SkipHostEnv:      true,
		StartTimeout:     p.opts.StartTimeout,
		Logger:           newLogGuard(p.log),
		// After go-plugin's own dialer, so in its place: the socket checked,
		// on the connection, to be the plugin's.
		GRPCDialOptions: append(p.dialOptions(), grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			return run.dialPlugin(ctx)
		})),
	})
	rpcClient, err := client.Client()
	if err != nil {
		stopClient(client, run, p.log)
		return nil, fmt.Errorf("plugin %s: start: %w", p.name, explainStartError(err))
	}
	raw, err := rpcClient.Dispense(wire.PluginName)
	if err != nil {
		stopClient(client, run, p.log)
		return nil, fmt.Errorf("plugin %s: %w", p.name, err)
	}
	pc := raw.(*pluginClient)
	c := &conn{client: client, run: run, rpc: pc, started: time.Now(), dropped: make(chan struct{})}
	if run != nil {
		c.pid = run.pid
	}
	p.bg.Add(1)
	go p.watch(c)
	p.collectSpans(c, pc.cc)
	return c, nil
}

// Launch identifies the running process: a value that differs from one start
// to the next (compare with ==), nil while none runs. What a process said of
// itself (a template it reported) holds for its launch only.
func (p *Process) Launch() any {
	if c := p.cur.Load(); c != nil {
		return c
	}
	return nil
}

// testHookVerified, when set by a test, runs between the check of the plugin file
// and its execution.
var testHookVerified func(path string)

// explainStartError rewrites go-plugin's long handshake error into one line that says
// what the plugin did wrong.
func explainStartError(err error) error {
	const prefix = "Unrecognized remote plugin message: "
	msg := err.Error()
	if !strings.HasPrefix(msg, prefix) {
		return err
	}
	first, rest, _ := strings.Cut(strings.TrimPrefix(msg, prefix), "\n")
	if first == "" && strings.HasPrefix(rest, "Failed to read any lines") {
		// The reader ends at the plugin's exit and at a line over 64 KiB alike.
		return errors.New("the plugin wrote no line to stdout before its handshake: it exited first, or its first line was longer than 64 KiB (is it an idplug plugin?)")
	}
	if first == "" {
		return errors.New("the plugin's first line on stdout was empty, not its handshake (it prints to stdout before serving)")
	}
	return fmt.Errorf("unrecognized plugin message %q instead of the handshake "+
		"(it is not an idplug plugin, or it prints to stdout before serving)", first)
}

// dialOptions are the host's options for its connection to the plugin. The
// HTTP/2 windows are fixed (wire.WindowSize): with gRPC's dynamic ones, the host
// answers the first reply data of a call with a bandwidth probe the plugin must
// wake up for.
func (p *Process) dialOptions() []grpc.DialOption {
	return append([]grpc.DialOption{
		grpc.WithStaticStreamWindowSize(wire.WindowSize), grpc.WithStaticConnWindowSize(wire.WindowSize),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxReplySize)),
		grpc.WithMaxHeaderListSize(maxHeaderList),
		grpc.WithChainStreamInterceptor(brokerDropper),
	}, p.spans.DialOptions()...)
}

// pluginEnv is the plugin's whole environment besides go-plugin's own: its log
// level, its runtime's monitor kept awake as idplug's is (internal/sysmon),
// tracing when on.
func (p *Process) pluginEnv() []string {
	env := []string{wire.EnvLogLevel + "=" + levelName(p.log), "GODEBUG=" + sysmon.PluginGodebug(os.Getenv("GODEBUG"))}
	if p.spans != nil {
		env = append(env, wire.EnvTracing+"=1")
	}
	return env
}

// collectSpans takes the spans of c's process in for as long as the host uses it.
func (p *Process) collectSpans(c *conn, cc grpc.ClientConnInterface) {
	if p.spans == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.bg.Add(2)
	go func() {
		defer p.bg.Done()
		defer cancel()
		p.spans.Collect(ctx, cc)
	}()
	go func() {
		defer p.bg.Done()
		select {
		case <-c.dropped:
			cancel()
		case <-ctx.Done():
		}
	}()
}

func levelName(l hclog.Logger) string {
	switch {
	case l.IsTrace():
		return "trace"
	case l.IsDebug():
		return "debug"
	case l.IsInfo():
		return "info"
	case l.IsWarn():
		return "warn"
	default:
		return "error"
	}
}

// grpcPlugin is the host side of go-plugin's GRPCPlugin.
type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
}

func (grpcPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error {
	return errors.New("the host does not serve connectors")
}

func (grpcPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, cc *grpc.ClientConn) (any, error) {
	return &pluginClient{ConnectorServiceClient: connectorv1.NewConnectorServiceClient(cc), cc: cc}, nil
}

// pluginClient is the connector service and the connection it runs on, for the
// other services of the same plugin (its span stream).
type pluginClient struct {
	connectorv1.ConnectorServiceClient
	cc *grpc.ClientConn
}
