// Command brokerflood is a connector plugin that floods go-plugin's broker
// stream, for the host's tests. The host's go-plugin client opens that stream
// to every plugin; this one answers it with Messages messages, alternately a
// connection offer under a new id and a knock under a new id (each of which
// go-plugin's broker keeps a goroutine or an entry for), then holds the stream
// open. Its GetAuthorizationUri answers once every message is sent.
package main

import (
	"context"
	"sync"

	"github.com/idplug/idplug/internal/plugintest/rawplugin"
	connectorv1 "github.com/idplug/idplug/proto/gen/idplug/connector/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/types/known/emptypb"
)

// Messages is how many messages the flood sends.
const Messages = 100_000

func main() {
	s := &server{flooded: make(chan struct{})}
	rawplugin.Serve(func(g *grpc.Server) { connectorv1.RegisterConnectorServiceServer(g, s) },
		grpc.ChainStreamInterceptor(s.flood))
}

type server struct {
	connectorv1.UnimplementedConnectorServiceServer
	once    sync.Once
	flooded chan struct{}
}

// flood takes over the broker stream's handler.
func (s *server) flood(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if info.FullMethod != "/plugin.GRPCBroker/StartStream" {
		return handler(srv, ss)
	}
	for i := range Messages {
		if err := ss.SendMsg(connInfo(uint32(i+1000), i%2 == 1)); err != nil {
			return err
		}
	}
	s.once.Do(func() { close(s.flooded) })
	<-ss.Context().Done()
	return nil
}

// connInfo is a plugin.ConnInfo (go-plugin's internal message) as bytes, sent
// as the unknown fields of an empty message: the wire form is all that counts.
func connInfo(id uint32, knock bool) *emptypb.Empty {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(id))
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendString(b, "unix")
	b = protowire.AppendTag(b, 3, protowire.BytesType)
	b = protowire.AppendString(b, "/nonexistent/broker.sock")
	if knock {
		var k []byte
		k = protowire.AppendTag(k, 1, protowire.VarintType)
		k = protowire.AppendVarint(k, 1)
		b = protowire.AppendTag(b, 4, protowire.BytesType)
		b = protowire.AppendBytes(b, k)
	}
	m := &emptypb.Empty{}
	m.ProtoReflect().SetUnknown(b)
	return m
}

func (*server) GetMetadata(context.Context, *connectorv1.GetMetadataRequest) (*connectorv1.GetMetadataResponse, error) {
	return &connectorv1.GetMetadataResponse{Metadata: &connectorv1.Metadata{
		Id: "brokerflood", Target: "brokerflood", Platform: connectorv1.Platform_PLATFORM_UNIVERSAL, IsStandard: true,
		Name: map[string]string{"en": "Broker flood"}, Description: map[string]string{"en": "Floods the broker stream."},
	}}, nil
}

func (*server) ValidateConfig(context.Context, *connectorv1.ValidateConfigRequest) (*connectorv1.ValidateConfigResponse, error) {
	return &connectorv1.ValidateConfigResponse{}, nil
}

func (s *server) GetAuthorizationUri(ctx context.Context, _ *connectorv1.GetAuthorizationUriRequest) (*connectorv1.GetAuthorizationUriResponse, error) {
	select {
	case <-s.flooded:
		return &connectorv1.GetAuthorizationUriResponse{RedirectTo: "https://flood.test/done"}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
