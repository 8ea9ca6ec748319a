// Command ignoreshutdown is a hostile plugin for the host's tests: it serves its
// metadata and answers calls, but never answers go-plugin's Shutdown call and so
// never exits on its own, as a malicious or wedged plugin may. Installed under a
// name holding "silent" it never answers GetMetadata either, so its start fails
// only by the host's call timeout.
package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	"github.com/idplug/idplug/internal/plugintest/rawplugin"
	connectorv1 "github.com/idplug/idplug/proto/gen/idplug/connector/v1"
	"google.golang.org/grpc"
)

// The plugin learns its mode from its file name (the base only: a test's folder
// is named for the test): a plugin gets no environment of its host's.
var silent = strings.Contains(filepath.Base(os.Args[0]), "silent")

func main() {
	rawplugin.Serve(func(g *grpc.Server) { connectorv1.RegisterConnectorServiceServer(g, server{}) },
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			if info.FullMethod == "/plugin.GRPCController/Shutdown" {
				select {} // holds the call, and the connection, until the process is killed
			}
			return h(ctx, req)
		}))
}

type server struct {
	connectorv1.UnimplementedConnectorServiceServer
}

func (server) GetMetadata(context.Context, *connectorv1.GetMetadataRequest) (*connectorv1.GetMetadataResponse, error) {
	if silent {
		select {}
	}
	return &connectorv1.GetMetadataResponse{Metadata: &connectorv1.Metadata{
		Id: "ignoreshutdown", Target: "ignoreshutdown", Platform: connectorv1.Platform_PLATFORM_UNIVERSAL, IsStandard: true,
		Name: map[string]string{"en": "Ignores shutdown"}, Description: map[string]string{"en": "Never answers go-plugin's Shutdown."},
	}}, nil
}

func (server) ValidateConfig(context.Context, *connectorv1.ValidateConfigRequest) (*connectorv1.ValidateConfigResponse, error) {
	return &connectorv1.ValidateConfigResponse{}, nil
}
