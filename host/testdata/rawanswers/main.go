// Command rawanswers is a connector plugin written without the SDK, for the
// host's tests: it serves the wire protocol itself, so it can send answers the
// SDK refuses to send. Calls behave as the instance's config says,
// {"mode": "..."}:
//
//	noprofile  GetUserInfo answers with no profile at all
//	noid       GetUserInfo answers with a profile without an id
//	(other)    GetUserInfo answers with a profile and tokens due at once
//
// RefreshTokens always answers with no token set and no error.
package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	plugin "github.com/hashicorp/go-plugin"
	"github.com/idplug/idplug/internal/wire"
	connectorv1 "github.com/idplug/idplug/proto/gen/idplug/connector/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

type server struct {
	connectorv1.UnimplementedConnectorServiceServer
	id string

	mu    sync.Mutex
	modes map[string]string // instance id -> mode, from the last config seen
}

// mode reads the instance's mode: the host sends a config once, then only
// the instance's id and version.
func (s *server) mode(in *connectorv1.Instance) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if raw := in.GetConfig(); len(raw) > 0 {
		var c struct{ Mode string }
		_ = json.Unmarshal(raw, &c)
		s.modes[in.GetId()] = c.Mode
	}
	return s.modes[in.GetId()]
}

func (s *server) GetMetadata(context.Context, *connectorv1.GetMetadataRequest) (*connectorv1.GetMetadataResponse, error) {
	return &connectorv1.GetMetadataResponse{Metadata: &connectorv1.Metadata{
		Id: s.id, Target: s.id, Platform: connectorv1.Platform_PLATFORM_UNIVERSAL, IsStandard: true,
		Name: map[string]string{"en": "Raw answers"}, Description: map[string]string{"en": "Answers the SDK would refuse"}}}, nil
}

func (s *server) ValidateConfig(_ context.Context, r *connectorv1.ValidateConfigRequest) (*connectorv1.ValidateConfigResponse, error) {
	s.mode(r.GetInstance())
	return &connectorv1.ValidateConfigResponse{}, nil
}

func (s *server) GetAuthorizationUri(_ context.Context, r *connectorv1.GetAuthorizationUriRequest) (*connectorv1.GetAuthorizationUriResponse, error) {
	s.mode(r.GetInstance())
	return &connectorv1.GetAuthorizationUriResponse{RedirectTo: "https://id.example.test/authorize?state=" + r.GetState(),
		Session: map[string]string{"state": r.GetState()}}, nil
}

func (s *server) GetUserInfo(_ context.Context, r *connectorv1.GetUserInfoRequest) (*connectorv1.GetUserInfoResponse, error) {
	switch s.mode(r.GetInstance()) {
	case "noprofile":
		return &connectorv1.GetUserInfoResponse{}, nil
	case "noid":
		return &connectorv1.GetUserInfoResponse{UserInfo: &connectorv1.UserInfo{Name: proto.String("Ann")}}, nil
	}
	return &connectorv1.GetUserInfoResponse{UserInfo: &connectorv1.UserInfo{Id: "ann"},
		Tokens: &connectorv1.TokenSet{AccessToken: "at", RefreshToken: "rt", TokenType: "Bearer", ExpiresAt: timestamppb.New(time.Now())}}, nil
}

func (s *server) RefreshTokens(_ context.Context, r *connectorv1.RefreshTokensRequest) (*connectorv1.RefreshTokensResponse, error) {
	s.mode(r.GetInstance())
	return &connectorv1.RefreshTokensResponse{}, nil
}

type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	s *server
}

func (p *grpcPlugin) GRPCServer(_ *plugin.GRPCBroker, g *grpc.Server) error {
	connectorv1.RegisterConnectorServiceServer(g, p.s)
	return nil
}

func (p *grpcPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, nil
}

func main() {
	id := strings.TrimPrefix(filepath.Base(os.Args[0]), "idplug-connector-")
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: wire.Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{
			wire.ProtocolVersion: {wire.PluginName: &grpcPlugin{s: &server{id: id, modes: map[string]string{}}}},
		},
		GRPCServer: plugin.DefaultGRPCServer,
	})
}
