package tracing

import (
	"strings"
	"testing"
)

func TestResolveLaysVariablesOverTheFile(t *testing.T) {
	file := Settings{Exporter: "otlp", Endpoint: "http://file:4318", Protocol: "grpc", ServiceName: "from-file",
		Sampler: "traceidratio", SamplerArg: "0.5"}
	env := map[string]string{
		EnvProtocol: "http/protobuf", EnvServiceName: "from-env", EnvSampler: "parentbased_traceidratio",
		EnvSamplerArg: "0.01", EnvEndpoint: "http://env:4318",
	}
	s, fromEnv, err := Resolve(file, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	want := Settings{Exporter: "otlp", Endpoint: "http://env:4318", Protocol: "http/protobuf", ServiceName: "from-env",
		Sampler: "parentbased_traceidratio", SamplerArg: "0.01"}
	if s != want || !fromEnv {
		t.Fatalf("Resolve = %+v, %v; want %+v, true", s, fromEnv, want)
	}
	env = map[string]string{EnvExporter: "none"}
	if s, _, _ := Resolve(file, func(k string) string { return env[k] }); s.On() {
		t.Fatal("OTEL_TRACES_EXPORTER=none left tracing on")
	}
}

// An endpoint variable idplug does not use (tracing off) is not its business:
// one shared by other services, scheme-less for gRPC, had stopped its start.
func TestAnEndpointVariableIsCheckedOnlyWhenTracing(t *testing.T) {
	env := map[string]string{EnvEndpoint: "otel-collector:4317"}
	if _, _, err := Resolve(Settings{}, func(k string) string { return env[k] }); err != nil {
		t.Fatalf("tracing off: %v", err)
	}
	env[EnvExporter] = "otlp"
	if _, _, err := Resolve(Settings{}, func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), EnvEndpoint) {
		t.Fatalf("tracing on: %v, want an error naming %s", err, EnvEndpoint)
	}
}

func TestResolveDefaultsToOff(t *testing.T) {
	s, fromEnv, err := Resolve(Settings{}, func(string) string { return "" })
	if err != nil || s.On() || fromEnv {
		t.Fatalf("Resolve(empty) = %+v, %v, %v; want off", s, fromEnv, err)
	}
	if s.Protocol != "http/protobuf" || s.Sampler != "parentbased_always_on" || s.ServiceName != "idplug" {
		t.Fatalf("defaults = %+v", s)
	}
}

func TestResolveNamesWhatIsWrong(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{EnvExporter: "zipkin"}, EnvExporter},
		{map[string]string{EnvExporter: "otlp", EnvProtocol: "http/json"}, EnvProtocol},
		{map[string]string{EnvExporter: "otlp", EnvSampler: "jaeger_remote"}, EnvSampler},
		{map[string]string{EnvExporter: "otlp", EnvSampler: "traceidratio", EnvSamplerArg: "1.5"}, EnvSamplerArg},
		// The exporter logged these and sent to localhost instead.
		{map[string]string{EnvExporter: "otlp", EnvEndpoint: "http://u:hunter2@[::1"}, EnvEndpoint},
		{map[string]string{EnvExporter: "otlp", EnvTracesEndpoint: "collector:4318"}, EnvTracesEndpoint},
	} {
		_, _, err := Resolve(Settings{}, func(k string) string { return tc.env[k] })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Resolve(%v) = %v; want an error naming %s", tc.env, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("the error quotes a password: %v", err)
		}
	}
}

func TestExpectedTracesAreBounded(t *testing.T) {
	p := (&Tracing{}).Plugin("x")
	var first [16]byte
	first[0] = 1
	p.Expect(first)
	for i := range expectedTraces {
		var id [16]byte
		id[1], id[2], id[3] = byte(i), byte(i>>8), 1
		p.Expect(id)
	}
	if len(p.expected) != expectedTraces || len(p.ring) != expectedTraces {
		t.Fatalf("%d traces held, %d in order; want %d", len(p.expected), len(p.ring), expectedTraces)
	}
	if _, ok := p.expected[first]; ok {
		t.Fatal("the oldest trace was not forgotten")
	}
}
