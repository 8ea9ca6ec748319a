// Command templated is a connector plugin that serves the wire contract with gRPC
// directly, for the host's tests of authorization templates: its configure answer
// declares whatever template its configuration holds (under "template", in the
// wire's JSON form), sound or not, as a plugin that skips the SDK's checks could.
// Its GetAuthorizationUri answers a URL on plugin.test, so a test sees whether the
// host built the URL or asked for it.
package main

import (
	"context"
	"encoding/json"

	"github.com/idplug/idplug/internal/plugintest/rawplugin"
	connectorv1 "github.com/idplug/idplug/proto/gen/idplug/connector/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"
)

func main() {
	rawplugin.Serve(func(s *grpc.Server) { connectorv1.RegisterConnectorServiceServer(s, server{}) })
}

type server struct {
	connectorv1.UnimplementedConnectorServiceServer
}

func (server) GetMetadata(context.Context, *connectorv1.GetMetadataRequest) (*connectorv1.GetMetadataResponse, error) {
	return &connectorv1.GetMetadataResponse{Metadata: &connectorv1.Metadata{
		Id: "templated", Target: "templated", Platform: connectorv1.Platform_PLATFORM_UNIVERSAL, IsStandard: true,
		Name: map[string]string{"en": "Templated"}, Description: map[string]string{"en": "Declares its config's template."},
	}}, nil
}

func (server) ValidateConfig(_ context.Context, req *connectorv1.ValidateConfigRequest) (*connectorv1.ValidateConfigResponse, error) {
	var cfg struct {
		Template json.RawMessage `json:"template"`
	}
	if err := json.Unmarshal(req.GetInstance().GetConfig(), &cfg); err != nil || len(cfg.Template) == 0 {
		return &connectorv1.ValidateConfigResponse{}, nil
	}
	var t connectorv1.AuthorizationTemplate
	if err := protojson.Unmarshal(cfg.Template, &t); err != nil {
		return &connectorv1.ValidateConfigResponse{Errors: []*connectorv1.FieldError{{Field: "template", Message: err.Error()}}}, nil
	}
	return &connectorv1.ValidateConfigResponse{AuthorizationTemplate: &t}, nil
}

func (server) GetAuthorizationUri(_ context.Context, req *connectorv1.GetAuthorizationUriRequest) (*connectorv1.GetAuthorizationUriResponse, error) {
	return &connectorv1.GetAuthorizationUriResponse{RedirectTo: "https://plugin.test/authorize?state=" + req.GetState(),
		Session: map[string]string{"from": "plugin"}}, nil
}
