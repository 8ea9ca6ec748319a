// Command templated is a connector plugin that serves the wire contract with gRPC
// directly, for the host's tests of authorization templates: its configure answer
// declares whatever template its configuration holds (under "template", in the
// wire's JSON form), sound or not, as a plugin that skips the SDK's checks could.
// Its GetAuthorizationUri answers a URL on plugin.test, so a test sees whether the
// host built the URL or asked for it, with whatever current template its
// configuration holds.
package main

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/idplug/idplug/internal/plugintest/rawplugin"
	connectorv1 "github.com/idplug/idplug/proto/gen/idplug/connector/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"
)

func main() {
	rawplugin.Serve(func(s *grpc.Server) { connectorv1.RegisterConnectorServiceServer(s, &server{}) })
}

type server struct {
	connectorv1.UnimplementedConnectorServiceServer
	configs sync.Map // instance id → its configuration, as validated (calls carry only its version)
}

func (*server) GetMetadata(context.Context, *connectorv1.GetMetadataRequest) (*connectorv1.GetMetadataResponse, error) {
	return &connectorv1.GetMetadataResponse{Metadata: &connectorv1.Metadata{
		Id: "templated", Target: "templated", Platform: connectorv1.Platform_PLATFORM_UNIVERSAL, IsStandard: true,
		Name: map[string]string{"en": "Templated"}, Description: map[string]string{"en": "Declares its config's template."},
	}}, nil
}

func (s *server) ValidateConfig(_ context.Context, req *connectorv1.ValidateConfigRequest) (*connectorv1.ValidateConfigResponse, error) {
	s.configs.Store(req.GetInstance().GetId(), req.GetInstance().GetConfig())
	var cfg struct {
		Template json.RawMessage `json:"template"`
		// Provider is answered as the provider of the configuration's tokens,
		// whatever it holds.
		Provider string `json:"provider"`
	}
	if err := json.Unmarshal(req.GetInstance().GetConfig(), &cfg); err != nil || len(cfg.Template) == 0 {
		return &connectorv1.ValidateConfigResponse{Provider: cfg.Provider}, nil
	}
	var t connectorv1.AuthorizationTemplate
	if err := protojson.Unmarshal(cfg.Template, &t); err != nil {
		return &connectorv1.ValidateConfigResponse{Errors: []*connectorv1.FieldError{{Field: "template", Message: err.Error()}}}, nil
	}
	return &connectorv1.ValidateConfigResponse{AuthorizationTemplate: &t, Provider: cfg.Provider}, nil
}

// GetAuthorizationUri answers with a URL on plugin.test and, when the
// configuration holds one under "current", that template as the one the next
// URLs are made with, for "currentForMs".
func (s *server) GetAuthorizationUri(_ context.Context, req *connectorv1.GetAuthorizationUriRequest) (*connectorv1.GetAuthorizationUriResponse, error) {
	resp := &connectorv1.GetAuthorizationUriResponse{RedirectTo: "https://plugin.test/authorize?state=" + req.GetState(),
		Session: map[string]string{"from": "plugin"}}
	var cfg struct {
		Current      json.RawMessage `json:"current"`
		CurrentForMs int64           `json:"currentForMs"`
	}
	raw, _ := s.configs.Load(req.GetInstance().GetId())
	if b, ok := raw.([]byte); ok && json.Unmarshal(b, &cfg) == nil && len(cfg.Current) > 0 {
		var t connectorv1.AuthorizationTemplate
		if err := protojson.Unmarshal(cfg.Current, &t); err == nil {
			resp.AuthorizationTemplate, resp.TemplateValidForMs = &t, cfg.CurrentForMs
		}
	}
	return resp, nil
}
