package sdk

import (
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/idplug/idplug/internal/pingcount"
	"golang.org/x/net/http2"
	"google.golang.org/grpc"
)

// TestNoBandwidthProbes: the gRPC server sdk.Serve makes does not answer a
// call's data with a bandwidth probe (a PING the host must wake up for). A server
// with gRPC's default options does, so the test sees probes when they come.
func TestNoBandwidthProbes(t *testing.T) {
	cfg, err := serveConfig[testConfig](&testConnector{}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := serverProbes(t, cfg.GRPCServer(nil)); n != 0 {
		t.Errorf("the plugin's server sent %d PINGs for one call, want none", n)
	}
	if n := serverProbes(t, grpc.NewServer()); n == 0 {
		t.Error("with gRPC's default windows the server sent no PING: the test cannot see probes")
	}
}

// serverProbes makes one call on a raw HTTP/2 connection to srv and counts the
// PINGs srv sends for it.
func serverProbes(t *testing.T, srv *grpc.Server) int {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)

	c, err := net.Dial("tcp", lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(c, c)
	call := pingcount.Headers(":method", "POST", ":scheme", "http", ":path", "/idplug.test.v1.Nothing/Call",
		":authority", "plugin", "content-type", "application/grpc", "te", "trailers")
	for _, err := range []error{
		fr.WriteSettings(),
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: call, EndHeaders: true}),
		fr.WriteData(1, true, []byte{0, 0, 0, 0, 0}), // an empty gRPC message
		fr.WritePing(false, pingcount.Mine),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	n, err := pingcount.Until(fr, nil)
	if err != nil {
		t.Fatalf("reading the server's frames: %v", err)
	}
	return n
}
