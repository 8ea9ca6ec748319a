package config

import (
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/idplug/idplug/host/config/internal/walk"
	"go.yaml.in/yaml/v3"
)

var (
	tracingKeys      = []string{"exporter", "endpoint", "protocol", "service_name", "sampler", "sampler_arg"}
	tracingExporters = []string{"otlp", "none"}
	tracingProtocols = []string{"grpc", "http/protobuf"}
	tracingSamplers  = []string{"always_on", "always_off", "traceidratio",
		"parentbased_always_on", "parentbased_always_off", "parentbased_traceidratio"}
)

// Tracing is the tracing section. Each field is the value of an OpenTelemetry
// variable (OTEL_TRACES_EXPORTER, OTEL_EXPORTER_OTLP_ENDPOINT,
// OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER,
// OTEL_TRACES_SAMPLER_ARG); a variable that is set wins. Empty fields are unset.
type Tracing struct {
	Exporter, Endpoint, Protocol, ServiceName, Sampler, SamplerArg string
}

// tracing decodes the tracing: mapping.
func (d *decoder) tracing(cfg *Config, fs walk.Fields) {
	e, ok, at := fs.At("tracing")
	if !ok {
		return
	}
	v := walk.Deref(e.Value)
	if v.Kind != yaml.MappingNode {
		d.ps.Add(at.Path, at.Pos, "must be a mapping, like {exporter: otlp, endpoint: http://collector:4318}")
		return
	}
	tfs := d.Known(v, at.Path, tracingKeys)
	tfs.Pos = walk.PosOf(v)
	oneOf := func(key string, allowed []string) string {
		s, set, kat := tfs.Text(key)
		if set && !slices.Contains(allowed, s) {
			d.ps.Add(kat.Path, kat.Pos, "must be one of %v, not %q", allowed, s)
		}
		return s
	}
	t := &cfg.Tracing
	t.Exporter = oneOf("exporter", tracingExporters)
	t.Protocol = oneOf("protocol", tracingProtocols)
	t.Sampler = oneOf("sampler", tracingSamplers)
	t.ServiceName, _, _ = tfs.Text("service_name")
	if s, set, kat := tfs.Text("endpoint"); set {
		if u, err := url.Parse(s); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			d.ps.Add(kat.Path, kat.Pos, "must be an http:// or https:// URL, like http://collector:4318")
		}
		t.Endpoint = s
	}
	if s, set, kat := tfs.Text("sampler_arg"); set {
		switch r, err := strconv.ParseFloat(s, 64); {
		case err != nil || r < 0 || r > 1:
			d.ps.Add(kat.Path, kat.Pos, "must be a ratio between 0 and 1, not %q", s)
		case t.Sampler != "" && !strings.HasSuffix(t.Sampler, "traceidratio"):
			// The standard reads it for the ratio samplers only: set with
			// another, the ratio meant would be ignored.
			d.ps.Add(kat.Path, kat.Pos, "is read only by the traceidratio samplers, not %s", t.Sampler)
		}
		t.SamplerArg = s
	}
}
