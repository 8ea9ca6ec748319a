// Package rawplugin serves a test plugin's gRPC services with go-plugin alone,
// without the SDK: for plugins of the host's tests that speak the wire contract
// as a plugin built without the SDK could (an older one, one that skips the SDK's
// checks, one that abuses a stream).
package rawplugin

import (
	"context"
	"errors"

	plugin "github.com/hashicorp/go-plugin"
	"github.com/idplug/idplug/internal/wire"
	"google.golang.org/grpc"
)

// Serve serves the services register adds to the plugin's gRPC server, with the
// host's handshake and protocol version, until the host stops the plugin.
// Options are added to the server's own (interceptors, say).
func Serve(register func(*grpc.Server), opts ...grpc.ServerOption) {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: wire.Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{
			wire.ProtocolVersion: {wire.PluginName: grpcPlugin{register: register}},
		},
		GRPCServer: func(base []grpc.ServerOption) *grpc.Server {
			return plugin.DefaultGRPCServer(append(base, opts...))
		},
	})
}

type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	register func(*grpc.Server)
}

func (p grpcPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	p.register(s)
	return nil
}

func (grpcPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, errors.New("the plugin side only")
}
