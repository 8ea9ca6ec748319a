package tracing

import (
	"github.com/go-logr/logr"
	"github.com/hashicorp/go-hclog"
)

// otelLog is OpenTelemetry's own logger (otel.SetLogger), which the SDK and its
// exporters report through: a malformed OTEL_EXPORTER_OTLP_HEADERS entry with
// the whole value, a collector's key included, and an endpoint that does not
// parse, credentials and all. Its default writes to stderr in a format of its
// own. This one writes only the message, at warn, to the host's log: neither
// the values nor the error text, which repeats them.
type otelLog struct {
	log  hclog.Logger
	name string
}

var _ logr.LogSink = otelLog{}

func (otelLog) Init(logr.RuntimeInfo) {}

// Enabled passes errors and warnings (OpenTelemetry's verbosity 0 and 1).
func (otelLog) Enabled(level int) bool { return level <= 1 }

func (l otelLog) Info(_ int, msg string, _ ...any) {
	l.log.Warn("OpenTelemetry: " + l.name + msg + " (its values are not logged: they may hold credentials)")
}

func (l otelLog) Error(_ error, msg string, _ ...any) {
	l.log.Warn("OpenTelemetry: " + l.name + msg + " (its values are not logged: they may hold credentials; check the OTEL_* variables and the tracing section)")
}

func (l otelLog) WithValues(...any) logr.LogSink { return l }

func (l otelLog) WithName(name string) logr.LogSink {
	l.name += name + ": "
	return l
}
