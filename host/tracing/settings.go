package tracing

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Settings say whether and where traces go. Each field has its OpenTelemetry
// variable; a set variable wins over the configuration file.
type Settings struct {
	// Exporter is "otlp" or "none" (OTEL_TRACES_EXPORTER); empty is "none": off.
	Exporter string
	// Endpoint is the collector's base URL (OTEL_EXPORTER_OTLP_ENDPOINT), such as
	// http://collector:4318 for http/protobuf (traces go to /v1/traces under it)
	// or http://collector:4317 for grpc. Empty: the protocol's default on localhost.
	Endpoint string
	// Protocol is "http/protobuf" (the default) or "grpc" (OTEL_EXPORTER_OTLP_PROTOCOL).
	Protocol string
	// ServiceName names the host in traces (OTEL_SERVICE_NAME); default "idplug".
	ServiceName string
	// Sampler is one of the standard samplers (OTEL_TRACES_SAMPLER): always_on,
	// always_off, traceidratio, parentbased_always_on (the default),
	// parentbased_always_off, parentbased_traceidratio.
	Sampler string
	// SamplerArg is the ratio of traceidratio samplers, 0 to 1 (OTEL_TRACES_SAMPLER_ARG); default 1.
	SamplerArg string
}

// Standard variable names.
const (
	EnvExporter        = "OTEL_TRACES_EXPORTER"
	EnvEndpoint        = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvTracesEndpoint  = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	EnvProtocol        = "OTEL_EXPORTER_OTLP_PROTOCOL"
	EnvTracesProtocol  = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	EnvServiceName     = "OTEL_SERVICE_NAME"
	EnvSampler         = "OTEL_TRACES_SAMPLER"
	EnvSamplerArg      = "OTEL_TRACES_SAMPLER_ARG"
	protocolGRPC       = "grpc"
	protocolHTTP       = "http/protobuf"
	defaultServiceName = "idplug"
	defaultSamplerName = "parentbased_always_on"
	exporterOTLP       = "otlp"
	exporterNone       = "none"
)

// Resolve lays the variables read by getenv over the file's settings, and checks
// the result. endpointFromEnv reports that the exporter must read its endpoint
// from the variables itself (they have signal-specific forms it knows best).
func Resolve(file Settings, getenv func(string) string) (s Settings, endpointFromEnv bool, err error) {
	s = file
	picked := ""
	pick := func(field *string, names ...string) bool {
		for _, n := range names {
			if v := strings.TrimSpace(getenv(n)); v != "" {
				*field = v
				picked = n
				return true
			}
		}
		return false
	}
	pick(&s.Exporter, EnvExporter)
	endpointFromEnv = pick(&s.Endpoint, EnvTracesEndpoint, EnvEndpoint)
	endpointVar := picked
	pick(&s.Protocol, EnvTracesProtocol, EnvProtocol)
	pick(&s.ServiceName, EnvServiceName)
	pick(&s.Sampler, EnvSampler)
	pick(&s.SamplerArg, EnvSamplerArg)
	if s.Exporter == "" {
		s.Exporter = exporterNone
	}
	if s.Protocol == "" {
		s.Protocol = protocolHTTP
	}
	if s.ServiceName == "" {
		s.ServiceName = defaultServiceName
	}
	if s.Sampler == "" {
		s.Sampler = defaultSamplerName
	}
	switch s.Exporter {
	case exporterOTLP, exporterNone:
	default:
		return s, false, fmt.Errorf("tracing exporter %q is not supported (%s): use otlp or none", s.Exporter, EnvExporter)
	}
	switch s.Protocol {
	case protocolGRPC, protocolHTTP:
	default:
		return s, false, fmt.Errorf("OTLP protocol %q is not supported (%s): use grpc or http/protobuf", s.Protocol, EnvProtocol)
	}
	if _, err := s.sampler(); err != nil {
		return s, false, err
	}
	// With tracing on, the exporter would log a malformed endpoint and send
	// to localhost instead (off, a variable shared with other services is
	// not idplug's business). Not quoted: it may carry credentials.
	if s.On() && endpointFromEnv && !isHTTPURL(s.Endpoint) {
		return s, false, fmt.Errorf("%s is not an http:// or https:// URL, like http://collector:4318", endpointVar)
	}
	return s, endpointFromEnv, nil
}

// isHTTPURL reports whether s is an absolute http or https URL with a host.
func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// On reports whether spans are exported at all.
func (s Settings) On() bool { return s.Exporter == exporterOTLP }

// sampler builds the standard sampler s names.
func (s Settings) sampler() (sdktrace.Sampler, error) {
	ratio := 1.0
	if s.SamplerArg != "" && strings.HasSuffix(s.Sampler, "traceidratio") {
		r, err := strconv.ParseFloat(s.SamplerArg, 64)
		if err != nil || r < 0 || r > 1 {
			return nil, fmt.Errorf("sampler argument %q is not a ratio between 0 and 1 (%s)", s.SamplerArg, EnvSamplerArg)
		}
		ratio = r
	}
	switch s.Sampler {
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "traceidratio":
		return sdktrace.TraceIDRatioBased(ratio), nil
	case "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	case "parentbased_traceidratio":
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio)), nil
	}
	return nil, fmt.Errorf("sampler %q is not supported (%s): use always_on, always_off, traceidratio, "+
		"parentbased_always_on, parentbased_always_off or parentbased_traceidratio", s.Sampler, EnvSampler)
}
