// Package metrics defines idplug's Prometheus metrics.
package metrics

import (
	"errors"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/host/process"
	"github.com/idplug/idplug/sdk"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds the host's collectors in a registry of their own.
type Metrics struct {
	registry     *prometheus.Registry
	calls        *prometheus.CounterVec
	callDuration *prometheus.HistogramVec
	restarts     *prometheus.CounterVec
	requests     *prometheus.CounterVec
	state        stateMetrics
	keyFailures  *prometheus.CounterVec
	// providerEvents count the OpenID Provider's events.
	providerEvents *prometheus.CounterVec
	// hideConnectors leaves connector ids out of the labels (HideConnectors).
	hideConnectors atomic.Bool
	egressRefused  *prometheus.CounterVec
	reload         reloadMetrics
}

// HideConnectors leaves connector instance ids out of every series from now
// on (the connector label is empty; calls add up by plugin): for a /metrics
// that anyone reaching the public listener can read, where the ids would say
// which providers this host signs in with, and how often.
func (m *Metrics) HideConnectors() { m.hideConnectors.Store(true) }

// New makes the collectors and registers them, with Go and process metrics.
func New() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idplug_connector_calls_total",
			Help: "Calls to connector instances, by connector, call and result code (ok on success, general for a code idplug does not define).",
		}, []string{"connector", "plugin", "rpc", "code"}),
		callDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "idplug_connector_call_duration_seconds",
			Help:    "Latency of calls to connector instances, including the plugin's calls to the provider.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"connector", "plugin", "rpc"}),
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idplug_plugin_restarts_total",
			Help: "Plugin processes restarted after they died.",
		}, []string{"plugin"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idplug_http_requests_total",
			Help: "HTTP requests, by route pattern and status.",
		}, []string{"route", "status"}),
		keyFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idplug_api_key_failures_total",
			Help: "Refused /v1 requests: invalid_key for a wrong API key, rate_limited for an address refused after too many, forbidden for a key outside its scopes.",
		}, []string{"reason"}),
	}
	m.state = newStateMetrics()
	m.providerEvents = newProviderEvents()
	m.registry.MustRegister(m.providerEvents)
	m.egressRefused = newEgressRefused()
	m.registry.MustRegister(m.egressRefused)
	m.reload = newReloadMetrics()
	m.registry.MustRegister(m.reload.ok, m.reload.at)
	m.registry.MustRegister(m.calls, m.callDuration, m.restarts, m.requests, m.keyFailures,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.registry.MustRegister(m.state.collectors()...)
	return m
}

// ObserveCall records a finished connector call; use it as host.Options.OnCall.
// The code label is ok, or the error's code when idplug defines it (CodeLabel):
// a code a plugin makes up counts as general.
func (m *Metrics) ObserveCall(c host.CallInfo) {
	code := "ok"
	if c.Err != nil {
		code = string(sdk.CodeGeneral)
		var e *sdk.Error
		if errors.As(c.Err, &e) {
			code = CodeLabel(e.Code)
		}
	}
	instance := c.Instance
	if m.hideConnectors.Load() {
		instance = ""
	}
	m.calls.WithLabelValues(instance, c.Plugin, c.RPC, code).Inc()
	m.callDuration.WithLabelValues(instance, c.Plugin, c.RPC).Observe(c.Duration.Seconds())
}

// PluginRestarted counts a restart; use it as host.Options.OnRestart.
func (m *Metrics) PluginRestarted(plugin string) { m.restarts.WithLabelValues(plugin).Inc() }

// ObserveRequest counts an HTTP request by its route pattern (never the raw path,
// which would make one series per connector id typo).
func (m *Metrics) ObserveRequest(route string, status int, _ time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
}

// APIKeyFailure counts a /v1 request refused for its API key: reason is
// invalid_key, rate_limited, or forbidden (a valid key outside its scopes).
func (m *Metrics) APIKeyFailure(reason string) { m.keyFailures.WithLabelValues(reason).Inc() }

// Handler serves the registry in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// WatchHost exports the state of the host's plugins, read at each scrape.
func (m *Metrics) WatchHost(h *host.Host) {
	m.registry.MustRegister(&pluginCollector{h: h})
}

// pluginCollector reports one series per plugin and state, 1 for the current state.
type pluginCollector struct{ h *host.Host }

var (
	pluginStateDesc = prometheus.NewDesc("idplug_plugin_state",
		"The state of each plugin: 1 for its current state (running, restarting, failed, stopped).",
		[]string{"plugin", "state"}, nil)
	pluginInFlightDesc = prometheus.NewDesc("idplug_plugin_calls_in_flight",
		"Calls in flight to each plugin.", []string{"plugin"}, nil)
	refusedDesc = prometheus.NewDesc("idplug_plugin_files_refused",
		"Files named like plugins that do not run (failed checks, failed starts, duplicate ids).", nil, nil)
)

func (c *pluginCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- pluginStateDesc
	ch <- pluginInFlightDesc
	ch <- refusedDesc
}

func (c *pluginCollector) Collect(ch chan<- prometheus.Metric) {
	states := func(id string, now process.State) {
		for _, s := range []process.State{process.StateRunning, process.StateRestarting, process.StateFailed, process.StateStopped} {
			v := 0.0
			if now == s {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(pluginStateDesc, prometheus.GaugeValue, v, id, string(s))
		}
	}
	// One snapshot for every series: from two (the plugins, then the status),
	// a plugin removed in between was listed both running and missing, the
	// same series twice, and the registry failed the whole scrape.
	st := c.h.Status()
	for _, p := range st.Plugins {
		states(p.ID, p.State)
		ch <- prometheus.MustNewConstMetric(pluginInFlightDesc, prometheus.GaugeValue, float64(p.InFlight), p.ID)
	}
	// The plugin of a configured connector with no process (its file
	// removed, its start failed) is stopped: its series had gone, and an
	// alert on the state saw nothing.
	for _, id := range st.MissingPlugins {
		states(id, process.StateStopped)
	}
	ch <- prometheus.MustNewConstMetric(refusedDesc, prometheus.GaugeValue, float64(len(st.Refused)))
}
