package process

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	plugin "github.com/hashicorp/go-plugin"
	"github.com/idplug/idplug/internal/wire"
	connectorv1 "github.com/idplug/idplug/proto/gen/idplug/connector/v1"
	"google.golang.org/grpc"
)

// launch starts a new process and completes the handshake.
func (p *Process) launch() (*conn, error) {
	cmd := exec.Command(p.path)
	// The plugin gets none of the host's environment, only what it needs.
	cmd.Env = []string{
		wire.EnvLogLevel + "=" + levelName(p.log),
		plugin.EnvUnixSocketDir + "=" + p.opts.SocketDir,
	}
	var secure *plugin.SecureConfig
	if p.checksum != nil {
		// A fresh hash per launch: SecureConfig does not reset the one it is given.
		secure = &plugin.SecureConfig{Checksum: p.checksum, Hash: sha256.New()}
	}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  wire.Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{wire.ProtocolVersion: {wire.PluginName: &grpcPlugin{}}},
		Cmd:              cmd,
		SecureConfig:     secure,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		SkipHostEnv:      true,
		StartTimeout:     p.opts.StartTimeout,
		Logger:           p.log,
	})
	rpcClient, err := client.Client()
	if err != nil {
		client.Kill()
		if errors.Is(err, plugin.ErrChecksumsDoNotMatch) {
			return nil, fmt.Errorf("plugin %s: %s: checksum does not match SHA256SUMS", p.name, p.path)
		}
		return nil, fmt.Errorf("plugin %s: start: %w", p.name, explainStartError(err))
	}
	raw, err := rpcClient.Dispense(wire.PluginName)
	if err != nil {
		client.Kill()
		return nil, fmt.Errorf("plugin %s: %w", p.name, err)
	}
	c := &conn{client: client, rpc: raw.(connectorv1.ConnectorServiceClient), started: time.Now(), dropped: make(chan struct{})}
	if rc := client.ReattachConfig(); rc != nil {
		c.pid = rc.Pid
		if rc.Addr != nil && rc.Addr.Network() == "unix" && filepath.Dir(rc.Addr.String()) == filepath.Clean(p.opts.SocketDir) {
			c.socket = rc.Addr.String()
		}
	}
	p.bg.Add(1)
	go p.watch(c)
	return c, nil
}

// explainStartError rewrites go-plugin's long handshake error into one line that says
// what the plugin did wrong.
func explainStartError(err error) error {
	const prefix = "Unrecognized remote plugin message: "
	msg := err.Error()
	if !strings.HasPrefix(msg, prefix) {
		return err
	}
	first, _, _ := strings.Cut(strings.TrimPrefix(msg, prefix), "\n")
	if first == "" {
		return errors.New("the plugin exited before its handshake, without writing anything to stdout (is it an idplug plugin?)")
	}
	return fmt.Errorf("unrecognized plugin message %q instead of the handshake "+
		"(it is not an idplug plugin, or it prints to stdout before serving)", first)
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
	return connectorv1.NewConnectorServiceClient(cc), nil
}
