package process

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/idplug/idplug/internal/pingcount"
	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"
)

// TestNoBandwidthProbes: the host's connection to a plugin does not answer a
// reply's data with a bandwidth probe (a PING the plugin must wake up for). The
// same call with gRPC's default options gets one, so the test sees probes when
// they come.
func TestNoBandwidthProbes(t *testing.T) {
	if n := clientProbes(t, (&Process{}).dialOptions()...); n != 0 {
		t.Errorf("the host sent %d PINGs for one call, want none", n)
	}
	if n := clientProbes(t); n == 0 {
		t.Error("with gRPC's default windows the client sent no PING: the test cannot see probes")
	}
}

// clientProbes makes one call with a gRPC client built with opts to a raw HTTP/2
// server that answers it, and counts the PINGs the client sends for it.
func clientProbes(t *testing.T, opts ...grpc.DialOption) int {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	type result struct {
		n   int
		err error
	}
	counted := make(chan result, 1)
	go func() {
		c, err := lis.Accept()
		if err != nil {
			counted <- result{err: err}
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		n, err := answerAndCount(c)
		counted <- result{n, err}
	}()

	cc, err := grpc.NewClient("passthrough:///"+lis.Addr().String(), append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cc.Invoke(ctx, "/idplug.test.v1.Nothing/Call", &emptypb.Empty{}, &emptypb.Empty{}); err != nil {
		t.Fatalf("call: %v", err)
	}
	r := <-counted
	if r.err != nil {
		t.Fatalf("the raw server: %v", r.err)
	}
	return r.n
}

// answerAndCount serves one call on c with an empty message, sends its own PING
// after the answer, and counts the client's PINGs.
func answerAndCount(c net.Conn) (int, error) {
	if _, err := io.ReadFull(c, make([]byte, len(http2.ClientPreface))); err != nil {
		return 0, err
	}
	fr := http2.NewFramer(c, c)
	if err := fr.WriteSettings(); err != nil {
		return 0, err
	}
	answered := false
	return pingcount.Until(fr, func(f *http2.DataFrame) error {
		if answered || !f.StreamEnded() {
			return nil
		}
		answered = true
		id := f.StreamID
		for _, err := range []error{
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, EndHeaders: true,
				BlockFragment: pingcount.Headers(":status", "200", "content-type", "application/grpc")}),
			fr.WriteData(id, false, []byte{0, 0, 0, 0, 0}), // an empty message
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, EndHeaders: true, EndStream: true,
				BlockFragment: pingcount.Headers("grpc-status", "0")}),
			fr.WritePing(false, pingcount.Mine),
		} {
			if err != nil {
				return err
			}
		}
		return nil
	})
}
