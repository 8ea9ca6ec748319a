// Command older is a connector plugin as built before the ReleaseInstances call
// existed, for the host's tests: it serves the wire contract with gRPC directly, and
// every call it does not know answers UNIMPLEMENTED, as an older SDK's would.
package main

import (
	"context"

	"github.com/idplug/idplug/internal/plugintest/rawplugin"
	connectorv1 "github.com/idplug/idplug/proto/gen/idplug/connector/v1"
	"google.golang.org/grpc"
)

func main() {
	rawplugin.Serve(func(s *grpc.Server) { connectorv1.RegisterConnectorServiceServer(s, server{}) })
}

// server answers the calls a sign-in needs; the embedded type answers UNIMPLEMENTED
// to the rest, ReleaseInstances included, as a server that does not know it does.
type server struct {
	connectorv1.UnimplementedConnectorServiceServer
}

func (server) GetMetadata(context.Context, *connectorv1.GetMetadataRequest) (*connectorv1.GetMetadataResponse, error) {
	return &connectorv1.GetMetadataResponse{Metadata: &connectorv1.Metadata{
		Id: "older", Target: "older", Platform: connectorv1.Platform_PLATFORM_UNIVERSAL, IsStandard: true,
		Name: map[string]string{"en": "Older"}, Description: map[string]string{"en": "Built before ReleaseInstances."},
	}}, nil
}

func (server) ValidateConfig(context.Context, *connectorv1.ValidateConfigRequest) (*connectorv1.ValidateConfigResponse, error) {
	return &connectorv1.ValidateConfigResponse{}, nil
}

func (server) GetAuthorizationUri(_ context.Context, req *connectorv1.GetAuthorizationUriRequest) (*connectorv1.GetAuthorizationUriResponse, error) {
	return &connectorv1.GetAuthorizationUriResponse{RedirectTo: "https://older.test/authorize?state=" + req.GetState()}, nil
}
