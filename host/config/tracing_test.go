package config

import (
	"strings"
	"testing"
)

func TestTracingSection(t *testing.T) {
	base := "listen: 127.0.0.1:8080\npublic_url: http://127.0.0.1:8080\nplugin_dir: .\nsession_keys: [\"0123456789abcdef0123456789abcdef\"]\n"
	cfg, err := Parse([]byte(base+"tracing:\n  exporter: otlp\n  endpoint: http://collector:4318\n  protocol: grpc\n"+
		"  service_name: idp\n  sampler: parentbased_traceidratio\n  sampler_arg: \"0.25\"\n"), func(string) (string, bool) { return "", false }, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	want := Tracing{Exporter: "otlp", Endpoint: "http://collector:4318", Protocol: "grpc", ServiceName: "idp",
		Sampler: "parentbased_traceidratio", SamplerArg: "0.25"}
	if cfg.Tracing != want {
		t.Fatalf("Tracing = %+v, want %+v", cfg.Tracing, want)
	}
	_, err = Parse([]byte(base+"tracing:\n  exporter: jaeger\n  endpoint: collector:4318\n  sampler_arg: lots\n  sampling: 1\n"),
		func(string) (string, bool) { return "", false }, t.TempDir())
	for _, want := range []string{"6: tracing.exporter", "7: tracing.endpoint", "8: tracing.sampler_arg", "tracing.sampling"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %q", err, want)
		}
	}
	// A ratio given to a sampler that reads none would be ignored.
	_, err = Parse([]byte(base+"tracing:\n  exporter: otlp\n  sampler: always_on\n  sampler_arg: \"0.01\"\n"),
		func(string) (string, bool) { return "", false }, t.TempDir())
	if want := "8: tracing.sampler_arg: is read only by the traceidratio samplers, not always_on"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want %q", err, want)
	}
}
