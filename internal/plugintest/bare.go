package plugintest

import (
	"context"
	"fmt"
	"os/exec"

	"github.com/hashicorp/go-hclog"
	plugin "github.com/hashicorp/go-plugin"
	"github.com/idplug/idplug/internal/wire"
	connectorv1 "github.com/idplug/idplug/proto/gen/idplug/connector/v1"
	"google.golang.org/grpc"
)

// Bare is a plugin started and called with go-plugin alone (the same handshake,
// AutoMTLS and gRPC as the host), without the host's layer: the floor of a call
// through the host.
type Bare struct {
	Client connectorv1.ConnectorServiceClient
	PID    int
	kill   func()
}

// StartBare starts the plugin executable bin with go-plugin.
func StartBare(bin string) (*Bare, error) {
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  wire.Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{wire.ProtocolVersion: {wire.PluginName: &bareClientPlugin{}}},
		Cmd:              exec.Command(bin),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		SkipHostEnv:      true,
		Logger:           hclog.NewNullLogger(),
	})
	rpc, err := client.Client()
	if err != nil {
		client.Kill()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	raw, err := rpc.Dispense(wire.PluginName)
	if err != nil {
		client.Kill()
		return nil, err
	}
	return &Bare{Client: raw.(connectorv1.ConnectorServiceClient), PID: client.ReattachConfig().Pid, kill: client.Kill}, nil
}

// Close stops the plugin.
func (b *Bare) Close() { b.kill() }

type bareClientPlugin struct{ plugin.NetRPCUnsupportedPlugin }

func (bareClientPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error { return nil }
func (bareClientPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, cc *grpc.ClientConn) (any, error) {
	return connectorv1.NewConnectorServiceClient(cc), nil
}
