package metrics

import (
	"errors"
	"time"

	"github.com/idplug/idplug/host/store"
	"github.com/idplug/idplug/sdk"
	"github.com/prometheus/client_golang/prometheus"
)

// stateMetrics count the store's calls and the vault's work.
type stateMetrics struct {
	storeCalls    *prometheus.CounterVec
	storeDuration *prometheus.HistogramVec
	vaultOps      *prometheus.CounterVec
	refreshes     *prometheus.CounterVec
}

func newStateMetrics() stateMetrics {
	return stateMetrics{
		storeCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idplug_store_calls_total",
			Help: "Calls to the state store, by backend, operation and result (ok, used, not_found, unavailable).",
		}, []string{"backend", "op", "result"}),
		storeDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "idplug_store_call_duration_seconds",
			Help:    "Latency of calls to the state store.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"backend", "op"}),
		vaultOps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idplug_vault_operations_total",
			Help: "Token vault operations (store, read, refresh, delete), by result: ok or an error code, general for one idplug does not define.",
		}, []string{"op", "result"}),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idplug_vault_refreshes_total",
			Help: "Refreshes of vault tokens at the provider: ok, refused (the grant is gone) or failed.",
		}, []string{"result"}),
	}
}

func (s stateMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{s.storeCalls, s.storeDuration, s.vaultOps, s.refreshes}
}

// ObserveStore records a store call; use it as the store.Observer of store.Timed.
func (m *Metrics) ObserveStore(backend, op string, took time.Duration, err error) {
	result := "ok"
	switch {
	case err == nil:
	case errors.Is(err, store.ErrUsed):
		result = "used"
	case errors.Is(err, store.ErrNotFound):
		result = "not_found"
	default:
		result = "unavailable"
	}
	m.state.storeCalls.WithLabelValues(backend, op, result).Inc()
	m.state.storeDuration.WithLabelValues(backend, op).Observe(took.Seconds())
}

// VaultOp counts a vault operation by its result: ok, or an error code
// (CodeLabel: a code idplug does not define counts as general).
func (m *Metrics) VaultOp(op, result string) {
	if result != "ok" {
		result = CodeLabel(sdk.ErrorCode(result))
	}
	m.state.vaultOps.WithLabelValues(op, result).Inc()
}

// VaultRefresh counts a refresh at the provider.
func (m *Metrics) VaultRefresh(result string) { m.state.refreshes.WithLabelValues(result).Inc() }
