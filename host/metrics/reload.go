package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// reloadMetrics say whether the configuration file's last reload applied. A
// refused SIGHUP is otherwise a log line only, and `systemctl reload` (its
// ExecReload sends the signal) reports success either way.
//
// Both appear once ConfigApplied is first called (idplug serve's start),
// as every idplug series appears with its first event.
type reloadMetrics struct {
	ok, at *prometheus.GaugeVec
}

func newReloadMetrics() reloadMetrics {
	return reloadMetrics{
		ok: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "idplug_config_last_reload_successful",
			Help: "1 when the last configuration reload applied (or none was made since the start), 0 when it was refused and the configuration before it keeps serving.",
		}, nil),
		at: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "idplug_config_last_reload_success_timestamp_seconds",
			Help: "When the configuration that serves was applied: the start, or the last reload that applied (Unix time).",
		}, nil),
	}
}

// ConfigApplied records a configuration applied, at start or by a reload.
func (m *Metrics) ConfigApplied(at time.Time) {
	m.reload.ok.WithLabelValues().Set(1)
	m.reload.at.WithLabelValues().Set(float64(at.UnixNano()) / 1e9)
}

// ConfigRefused records a refused reload: the configuration before it serves.
func (m *Metrics) ConfigRefused() { m.reload.ok.WithLabelValues().Set(0) }
