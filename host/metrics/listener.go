package metrics

import "github.com/prometheus/client_golang/prometheus"

// WatchListener counts, for a listener ("public" or "admin"), the connections
// it closed at its caps: idle kept-alive ones closed to make room for a new
// client at http.max_connections (a steady rate says the cap is too low for
// the clients, or that one of them holds connections it does not use), and
// new ones closed at once because their address held
// http.max_connections_per_address busy ones.
func (m *Metrics) WatchListener(listener string, reclaimed, refused func() int64) {
	m.registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name:        "idplug_http_idle_connections_closed_total",
		Help:        "Idle kept-alive connections a listener (public, admin) closed to make room for a new client at http.max_connections.",
		ConstLabels: prometheus.Labels{"listener": listener},
	}, func() float64 { return float64(reclaimed()) }))
	m.registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name:        "idplug_http_connections_refused_total",
		Help:        "New connections a listener (public, admin) closed at once: their address held http.max_connections_per_address busy ones.",
		ConstLabels: prometheus.Labels{"listener": listener},
	}, func() float64 { return float64(refused()) }))
}
