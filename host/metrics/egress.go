package metrics

import (
	"slices"

	"github.com/idplug/idplug/host/egress"
	"github.com/prometheus/client_golang/prometheus"
)

// egressReasons bound the reason label; any other counts as "other".
var egressReasons = []string{egress.ReasonNotNamed, egress.ReasonPrivate, egress.ReasonHostListener, egress.ReasonBadRequest}

func newEgressRefused() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "idplug_plugin_egress_refused_total",
		Help: "Connections the egress proxy refused a plugin: not_named, private_address, host_listener, bad_request.",
	}, []string{"plugin", "reason"})
}

// EgressRefused counts a refusal of a plugin's egress proxy; use it as
// host.Options.OnEgressRefused.
func (m *Metrics) EgressRefused(plugin, reason string) {
	if !slices.Contains(egressReasons, reason) {
		reason = "other"
	}
	m.egressRefused.WithLabelValues(plugin, reason).Inc()
}
