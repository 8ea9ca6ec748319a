package tracing

import (
	"context"
	"io"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"
)

// The access log shows a vault path's user id only as "~" and 12 hex digits of
// its SHA-256 ("the log names nobody"); so does the request span's url.path,
// exported to the collector, which had been the raw path.
func TestSpanURLPathHidesTheVaultUser(t *testing.T) {
	const user = "alice.smith@example.com"
	r := httptest.NewRequest("GET", "http://idplug.test/v1/connectors/github/users/"+user+"/tokens", nil)
	for _, a := range requestAttributes(r) {
		if strings.Contains(a.Value.AsString(), user) {
			t.Errorf("span attribute %s = %q names the user the access log hides", a.Key, a.Value.AsString())
		}
	}
}

// The OTLP exporter reads OTEL_EXPORTER_OTLP_HEADERS (where a collector's API
// key goes) itself, and reports a malformed entry through OpenTelemetry's own
// logger, value and all; that logger's default wrote to the process's stderr,
// outside idplug's format and log_level. The report now reaches idplug's log
// without the value, and nothing reaches file descriptor 2.
func TestMalformedOTLPHeadersAreReportedWithoutTheirValue(t *testing.T) {
	const token = "collector-api-key-6f1c9d2e"
	// A colon for "=", as in an HTTP header; and a value with a stray "%".
	t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "Authorization: Bearer "+token+",x-api-key=abc%zz"+token)

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	saved, err := unix.Dup(2)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(saved)
	if err := unix.Dup2(int(w.Fd()), 2); err != nil {
		t.Fatal(err)
	}
	var logged strings.Builder
	log := hclog.New(&hclog.LoggerOptions{Output: &logged, Level: hclog.Info})
	tr, startErr := Start(context.Background(), Settings{Exporter: exporterOTLP, Protocol: protocolHTTP,
		Endpoint: "http://127.0.0.1:9", ServiceName: "idplug", Sampler: defaultSamplerName}, false, log)
	restoreErr := unix.Dup2(saved, 2)
	w.Close()
	if restoreErr != nil {
		t.Fatal(restoreErr)
	}
	if startErr != nil {
		t.Fatal(startErr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 0)
	defer cancel()
	_ = tr.Shutdown(ctx)
	stderr, _ := io.ReadAll(r)
	if len(stderr) > 0 {
		t.Errorf("stderr got a line outside idplug's log:\n%s", stderr)
	}
	if strings.Contains(logged.String(), token) || !strings.Contains(logged.String(), "OpenTelemetry: parse headers") {
		t.Errorf("idplug's log:\n%s", logged.String())
	}
}
