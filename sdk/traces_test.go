package sdk

import (
	"io"
	"log/slog"
	"testing"

	plugin "github.com/hashicorp/go-plugin"
	"github.com/idplug/idplug/internal/wire"
	connectorv1 "github.com/idplug/idplug/proto/gen/idplug/connector/v1"
)

// TestTraceServiceOnlyWhenTheHostAsks: without IDPLUG_TRACING=1 the plugin serves
// no TraceService and installs nothing for tracing.
func TestTraceServiceOnlyWhenTheHostAsks(t *testing.T) {
	t.Setenv(wire.EnvTracing, "")
	if rec := startTraces("test"); rec != nil {
		t.Fatal("tracing started without the host asking")
	}
	cfg, err := serveConfig[testConfig](&testConnector{}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.GRPCServer(nil)
	defer s.Stop()
	if err := cfg.VersionedPlugins[wire.ProtocolVersion][wire.PluginName].(plugin.GRPCPlugin).GRPCServer(nil, s); err != nil {
		t.Fatal(err)
	}
	services := s.GetServiceInfo()
	if _, ok := services[connectorv1.TraceService_ServiceDesc.ServiceName]; ok {
		t.Fatal("TraceService is served with tracing off")
	}
	if _, ok := services[connectorv1.ConnectorService_ServiceDesc.ServiceName]; !ok {
		t.Fatal("ConnectorService is not served")
	}
}
