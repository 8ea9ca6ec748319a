package process

import (
	"context"
	"testing"

	connectorv1 "github.com/idplug/idplug/proto/gen/idplug/connector/v1"
	"github.com/idplug/idplug/sdk"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// releaseRPC answers ReleaseInstances with err and records the request; any other
// call would panic on the nil embedded client.
type releaseRPC struct {
	connectorv1.ConnectorServiceClient
	err error
	got *connectorv1.ReleaseInstancesRequest
}

func (r *releaseRPC) ReleaseInstances(_ context.Context, req *connectorv1.ReleaseInstancesRequest, _ ...grpc.CallOption) (*connectorv1.ReleaseInstancesResponse, error) {
	r.got = req
	return &connectorv1.ReleaseInstancesResponse{}, r.err
}

func TestReleaseInstancesSendsVersionsAndForgetsThem(t *testing.T) {
	p, c := newIdle(t, Options{})
	rpc := &releaseRPC{}
	c.rpc = rpc
	c.known.Store("gone", "v1")
	c.known.Store("changed", "v3") // a call sent v3 before the release of v2

	err := p.ReleaseInstances(context.Background(), []Instance{
		{ID: "gone", Version: "v1", Config: []byte(`{"secret":"x"}`)},
		{ID: "changed", Version: "v2"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(rpc.got.GetInstances()); n != 2 {
		t.Fatalf("%d instances sent, want 2", n)
	}
	for _, in := range rpc.got.GetInstances() {
		if len(in.GetConfig()) != 0 {
			t.Errorf("release of %s carries a configuration", in.GetId())
		}
	}
	if _, ok := c.known.Load("gone"); ok {
		t.Error("the process still counts the released version as known: it would not be resent")
	}
	if v, _ := c.known.Load("changed"); v != "v3" {
		t.Errorf("releasing v2 forgot the newer version: known = %v", v)
	}
	if p.InFlight() != 0 {
		t.Errorf("%d calls left in flight", p.InFlight())
	}
}

func TestReleaseInstancesOfAnOlderPluginIsNotImplemented(t *testing.T) {
	p, c := newIdle(t, Options{})
	c.rpc = &releaseRPC{err: status.Error(codes.Unimplemented, "unknown method ReleaseInstances")}
	err := p.ReleaseInstances(context.Background(), []Instance{{ID: "gone", Version: "v1"}})
	if e := sdkError(t, err); e.Code != sdk.CodeNotImplemented {
		t.Fatalf("err = %v, want not_implemented", err)
	}
}

// A process that is not running holds nothing: no release starts one.
func TestReleaseInstancesStartsNoProcess(t *testing.T) {
	p, _ := newIdle(t, Options{})
	p.cur.Store(nil)
	if err := p.ReleaseInstances(context.Background(), []Instance{{ID: "gone", Version: "v1"}}); err != nil {
		t.Fatal(err)
	}
	if p.cur.Load() != nil || p.starting != nil {
		t.Fatal("the release started a process")
	}
}
