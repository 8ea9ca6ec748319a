package tracing

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/idplug/idplug/internal/otlptest"
)

// BenchmarkHandler: what tracing adds to one request through Handler, off, on
// with the request not sampled, and on and sampled (exported to a receiver that
// only counts). Run with: go test -run ^$ -bench BenchmarkHandler -benchmem ./host/tracing/
func BenchmarkHandler(b *testing.B) {
	rcv := otlptest.StartDiscarding(b)
	start := func(sampler string) *Tracing {
		s, fromEnv, err := Resolve(Settings{Exporter: "otlp", Endpoint: rcv.HTTPEndpoint, Sampler: sampler}, func(string) string { return "" })
		if err != nil {
			b.Fatal(err)
		}
		tr, err := Start(context.Background(), s, fromEnv, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
		return tr
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/connectors/{id}/user-info", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) })
	for _, c := range []struct {
		name string
		tr   *Tracing
	}{{"off", nil}, {"unsampled", start("always_off")}, {"sampled", start("always_on")}} {
		h := c.tr.Handler(mux)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest("POST", "/v1/connectors/acme/user-info", nil)
				h.ServeHTTP(httptest.NewRecorder(), req)
			}
		})
	}
}
