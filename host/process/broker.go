package process

import (
	"context"

	"google.golang.org/grpc"
)

// go-plugin's client always opens the plugin's broker stream (for plugins that
// serve further gRPC services back to the host) and, for every message a plugin
// sends on it, starts a goroutine kept five seconds, or keeps an entry for
// good: a plugin streaming small messages fills the host's memory within
// seconds. idplug's plugins serve one service on one connection and never use
// the broker, so what a plugin sends there is read and dropped before go-plugin
// sees it. Reading it (rather than leaving it unread) keeps the stream ending
// with its connection.

const brokerStream = "/plugin.GRPCBroker/StartStream"

// maxHeaderList bounds the headers, and apart the trailers, of a plugin's reply:
// gRPC's default is 16 MiB, and each call in flight holds its reply's until it
// ends, beside the reply budget (replies.go). A connector error travels in the
// trailers, which the SDK keeps within 64 KiB (sdk's toStatus); the host keeps
// less of it still (pluginerror.go).
const maxHeaderList = 64 << 10

func brokerDropper(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	s, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil || method != brokerStream {
		return s, err
	}
	return droppedStream{s}, nil
}

type droppedStream struct{ grpc.ClientStream }

// RecvMsg reads the plugin's messages and drops them, until the stream ends.
func (s droppedStream) RecvMsg(m any) error {
	for {
		if err := s.ClientStream.RecvMsg(m); err != nil {
			return err
		}
	}
}
