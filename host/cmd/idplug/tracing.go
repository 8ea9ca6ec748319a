package main

import (
	"context"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/idplug/idplug/host/config"
	"github.com/idplug/idplug/host/tracing"
)

// traceFlushTimeout bounds the export of the last spans at shutdown.
const traceFlushTimeout = 5 * time.Second

// startTracing starts what the tracing section and the OTEL_* variables ask for
// (the variables win); nil when tracing is off, as it is by default.
func startTracing(ctx context.Context, cfg *config.Config, log hclog.Logger) (*tracing.Tracing, error) {
	t := cfg.Tracing
	s, endpointFromEnv, err := tracing.Resolve(tracing.Settings{
		Exporter: t.Exporter, Endpoint: t.Endpoint, Protocol: t.Protocol,
		ServiceName: t.ServiceName, Sampler: t.Sampler, SamplerArg: t.SamplerArg,
	}, os.Getenv)
	if err != nil {
		return nil, err
	}
	// An endpoint with no exporter named: the operator meant tracing on.
	if !s.On() && s.Endpoint != "" && t.Exporter == "" && os.Getenv(tracing.EnvExporter) == "" {
		log.Warn("tracing is off: an OTLP endpoint is set but no exporter; set tracing.exporter: otlp (or " + tracing.EnvExporter + "=otlp)")
	}
	tr, err := tracing.Start(ctx, s, endpointFromEnv, log.Named("tracing"))
	if err != nil || tr == nil {
		return nil, err
	}
	log.Info("tracing on", "protocol", s.Protocol, "sampler", s.Sampler, "service", s.ServiceName)
	return tr, nil
}

// stopTracing exports what is left, within traceFlushTimeout.
func stopTracing(tr *tracing.Tracing, log hclog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), traceFlushTimeout)
	defer cancel()
	if err := tr.Shutdown(ctx); err != nil {
		log.Warn("the last spans were not exported", "error", err)
	}
}
