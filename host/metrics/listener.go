package metrics

import "github.com/prometheus/client_golang/prometheus"

// WatchListener counts, for a listener ("public" or "admin"), the idle
// kept-alive connections it closed to make room for a new client at
// http.max_connections: a steady rate says the cap is too low for the
// clients, or that one of them holds connections it does not use.
func (m *Metrics) WatchListener(listener string, reclaimed func() int64) {
	m.registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name:        "idplug_http_idle_connections_closed_total",
		Help:        "Idle kept-alive connections a listener (public, admin) closed to make room for a new client at http.max_connections.",
		ConstLabels: prometheus.Labels{"listener": listener},
	}, func() float64 { return float64(reclaimed()) }))
}
