package metrics_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idplug/idplug/host"
	"github.com/idplug/idplug/host/metrics"
	"github.com/idplug/idplug/host/store"
	"github.com/idplug/idplug/sdk"
	"github.com/prometheus/client_golang/prometheus"
)

// secret stands for a token, a client secret or a database password that an
// error message may carry.
const secret = "s3cr3t-T0KEN-do-not-expose"

// TestObserveCallSeries: each finished call moves one calls_total series,
// labelled by connector, plugin, rpc and code (ok, the *sdk.Error's code even
// when wrapped, general for any other error), and one latency histogram series
// without the code.
func TestObserveCallSeries(t *testing.T) {
	cases := []struct {
		name     string
		err      error
		wantCode string
	}{
		{"success is ok", nil, "ok"},
		{"an sdk.Error gives its code", &sdk.Error{Code: sdk.CodeProviderTimeout, Message: "took too long"}, "provider_timeout"},
		{"a wrapped sdk.Error gives its code", fmt.Errorf("call: %w", &sdk.Error{Code: sdk.CodeSocialAuthCodeInvalid}), "social_auth_code_invalid"},
		{"a code the host adds is kept", &sdk.Error{Code: "plugin_timeout"}, "plugin_timeout"},
		{"any other error is general", errors.New("connection reset"), "general"},
		{"hostile: a plain error whose text looks like a code is still general", errors.New("ok"), "general"},
		{"hostile: a code the plugin made up is general", &sdk.Error{Code: "made_up"}, "general"},
		{"hostile: a plugin's ok is general", &sdk.Error{Code: "ok"}, "general"},
		{"hostile: a code carrying a secret is general", &sdk.Error{Code: sdk.ErrorCode(secret)}, "general"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := metrics.New()
			m.ObserveCall(host.CallInfo{Instance: "acme", Plugin: "oauth2", RPC: "UserInfo", Duration: 30 * time.Millisecond, Err: c.err})
			e := scrape(t, m)
			if v, ok := e.value("idplug_connector_calls_total", l("connector", "acme", "plugin", "oauth2", "rpc", "UserInfo", "code", c.wantCode)); !ok || v != 1 {
				t.Errorf("calls_total{code=%q} = %v (exposed %v), want 1\n%s", c.wantCode, v, ok, e.values["idplug_connector_calls_total"])
			}
			if n := e.count("idplug_connector_calls_total"); n != 1 {
				t.Errorf("%d calls_total series, want 1", n)
			}
			call := l("connector", "acme", "plugin", "oauth2", "rpc", "UserInfo")
			if v, _ := e.value("idplug_connector_call_duration_seconds_count", call); v != 1 {
				t.Errorf("duration count = %v, want 1", v)
			}
			if v, _ := e.value("idplug_connector_call_duration_seconds_sum", call); v < 0.0299 || v > 0.0301 {
				t.Errorf("duration sum = %v, want 0.03", v)
			}
			// 30ms falls in the 0.05 bucket, not in the 0.025 one.
			if v, _ := e.value("idplug_connector_call_duration_seconds_bucket", l("connector", "acme", "plugin", "oauth2", "rpc", "UserInfo", "le", "0.025")); v != 0 {
				t.Errorf("le=0.025 bucket = %v, want 0", v)
			}
			if v, _ := e.value("idplug_connector_call_duration_seconds_bucket", l("connector", "acme", "plugin", "oauth2", "rpc", "UserInfo", "le", "0.05")); v != 1 {
				t.Errorf("le=0.05 bucket = %v, want 1", v)
			}
			if e.labels["idplug_connector_call_duration_seconds"]["code"] {
				t.Error("the latency histogram has a code label: one histogram per error code")
			}
		})
	}
}

// TestObserveCallCountsAdd: calls add up per label set, concurrently too, and
// each label set is its own series.
func TestObserveCallCountsAdd(t *testing.T) {
	m := metrics.New()
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rpc := "AuthorizationURI"
			if i%2 == 1 {
				rpc = "UserInfo"
			}
			m.ObserveCall(host.CallInfo{Instance: "acme", Plugin: "oauth2", RPC: rpc, Duration: time.Millisecond})
		}()
	}
	wg.Wait()
	e := scrape(t, m)
	for _, rpc := range []string{"AuthorizationURI", "UserInfo"} {
		if v, _ := e.value("idplug_connector_calls_total", l("connector", "acme", "plugin", "oauth2", "rpc", rpc, "code", "ok")); v != 25 {
			t.Errorf("%s: %v calls, want 25", rpc, v)
		}
	}
	if v, _ := e.value("idplug_connector_calls_total", l("connector", "other", "plugin", "oauth2", "rpc", "UserInfo", "code", "ok")); v != 0 {
		t.Errorf("a connector that made no call has %v", v)
	}
}

// TestObserveStoreResults: a store call's error is classified into one of four
// results (ok, used, not_found, unavailable), wrapped or not, and the latency
// histogram has no result label.
func TestObserveStoreResults(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"nil is ok", nil, "ok"},
		{"ErrUsed is used", store.ErrUsed, "used"},
		{"a wrapped ErrUsed is used", fmt.Errorf("consume: %w", store.ErrUsed), "used"},
		{"ErrNotFound is not_found", store.ErrNotFound, "not_found"},
		{"a wrapped ErrNotFound is not_found", fmt.Errorf("get: %w", store.ErrNotFound), "not_found"},
		{"ErrUnavailable is unavailable", fmt.Errorf("%w: put_session: dial tcp: refused", store.ErrUnavailable), "unavailable"},
		{"hostile: an unknown error is unavailable, never ok", errors.New("not_found"), "unavailable"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := metrics.New()
			m.ObserveStore("sqlite", "get_session", 2*time.Millisecond, c.err)
			e := scrape(t, m)
			if v, _ := e.value("idplug_store_calls_total", l("backend", "sqlite", "op", "get_session", "result", c.want)); v != 1 {
				t.Errorf("store_calls_total{result=%q} = %v, want 1; results seen %v", c.want, v, e.values["idplug_store_calls_total"]["result"])
			}
			if n := e.count("idplug_store_calls_total"); n != 1 {
				t.Errorf("%d store_calls_total series, want 1", n)
			}
			if v, _ := e.value("idplug_store_call_duration_seconds_count", l("backend", "sqlite", "op", "get_session")); v != 1 {
				t.Errorf("store duration count = %v, want 1", v)
			}
			// 2ms falls in the 0.0025 bucket, not in the 0.001 one.
			if v, _ := e.value("idplug_store_call_duration_seconds_bucket", l("backend", "sqlite", "op", "get_session", "le", "0.001")); v != 0 {
				t.Errorf("le=0.001 bucket = %v, want 0", v)
			}
			if v, _ := e.value("idplug_store_call_duration_seconds_bucket", l("backend", "sqlite", "op", "get_session", "le", "0.0025")); v != 1 {
				t.Errorf("le=0.0025 bucket = %v, want 1", v)
			}
			if e.labels["idplug_store_call_duration_seconds"]["result"] {
				t.Error("the store latency histogram has a result label")
			}
		})
	}
}

// TestSimpleCounters: the other recording functions each move exactly the
// series named by their arguments.
func TestSimpleCounters(t *testing.T) {
	cases := []struct {
		name   string
		record func(m *metrics.Metrics)
		family string
		labels map[string]string
		want   float64
	}{
		{"PluginRestarted counts per plugin", func(m *metrics.Metrics) {
			m.PluginRestarted("oauth2")
			m.PluginRestarted("oauth2")
			m.PluginRestarted("github")
		}, "idplug_plugin_restarts_total", l("plugin", "oauth2"), 2},
		{"ObserveRequest counts by route and status", func(m *metrics.Metrics) {
			m.ObserveRequest("GET /callback/{id}", 302, time.Second)
			m.ObserveRequest("GET /callback/{id}", 302, time.Millisecond)
			m.ObserveRequest("GET /callback/{id}", 400, time.Millisecond)
		}, "idplug_http_requests_total", l("route", "GET /callback/{id}", "status", "302"), 2},
		{"ObserveRequest writes the status in decimal", func(m *metrics.Metrics) {
			m.ObserveRequest("unmatched", 404, 0)
		}, "idplug_http_requests_total", l("route", "unmatched", "status", "404"), 1},
		{"APIKeyFailure counts by reason", func(m *metrics.Metrics) {
			m.APIKeyFailure("invalid_key")
			m.APIKeyFailure("rate_limited")
			m.APIKeyFailure("invalid_key")
		}, "idplug_api_key_failures_total", l("reason", "invalid_key"), 2},
		{"VaultOp counts by op and result", func(m *metrics.Metrics) {
			m.VaultOp("refresh", "ok")
			m.VaultOp("refresh", "not_found")
			m.VaultOp("read", "ok")
		}, "idplug_vault_operations_total", l("op", "refresh", "result", "ok"), 1},
		{"VaultRefresh counts by result", func(m *metrics.Metrics) {
			m.VaultRefresh("refused")
			m.VaultRefresh("refused")
			m.VaultRefresh("ok")
		}, "idplug_vault_refreshes_total", l("result", "refused"), 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := metrics.New()
			before := scrape(t, m)
			if n := before.count(c.family); n != 0 {
				t.Fatalf("%s has %d series before any event", c.family, n)
			}
			c.record(m)
			e := scrape(t, m)
			if v, ok := e.value(c.family, c.labels); !ok || v != c.want {
				t.Errorf("%s%v = %v (exposed %v), want %v", c.family, c.labels, v, ok, c.want)
			}
			// Nothing else moved: only the family under test has idplug series.
			for fam := range e.kind {
				if strings.HasPrefix(fam, "idplug_") && fam != c.family && e.count(fam) != 0 {
					t.Errorf("%s moved too", fam)
				}
			}
		})
	}
}

// TestLabelValuesStayBounded: what varies from one event to the next (error
// messages, durations, status texts) never becomes a label, so the number of
// series is bounded by the callers' label values, not by traffic.
func TestLabelValuesStayBounded(t *testing.T) {
	m := metrics.New()
	for i := range 200 {
		m.ObserveCall(host.CallInfo{Instance: "acme", Plugin: "oauth2", RPC: "UserInfo", Duration: time.Duration(i) * time.Millisecond,
			Err: fmt.Errorf("provider said %d: %s", i, secret)})
		m.ObserveCall(host.CallInfo{Instance: "acme", Plugin: "oauth2", RPC: "UserInfo", Duration: time.Duration(i) * time.Millisecond,
			Err: &sdk.Error{Code: sdk.CodeInvalidResponse, Message: fmt.Sprintf("bad answer %d", i), Details: map[string]any{"n": i}}})
		m.ObserveStore("postgres", "put_tokens", time.Duration(i)*time.Microsecond,
			fmt.Errorf("%w: dial postgres://idplug:%s@db%d/idplug", store.ErrUnavailable, secret, i))
		m.ObserveStore("postgres", "consume_flow", time.Duration(i)*time.Microsecond, fmt.Errorf("flow %d: %w", i, store.ErrUsed))
		m.ObserveStore("postgres", "get_tokens", 0, fmt.Errorf("some driver error %d", i))
	}
	e := scrape(t, m)
	want := map[string]int{
		"idplug_connector_calls_total":           2, // general, invalid_response
		"idplug_connector_call_duration_seconds": 1,
		"idplug_store_calls_total":               3, // put_tokens/unavailable, consume_flow/used, get_tokens/unavailable
		"idplug_store_call_duration_seconds":     3,
	}
	for fam, n := range want {
		if got := e.count(fam); got != n {
			t.Errorf("%s: %d series after 200 distinct errors, want %d: %v", fam, got, n, e.values[fam])
		}
	}
	if strings.Contains(e.raw, secret) {
		t.Errorf("an error's text reached the exposition:\n%s", e.raw)
	}
}

// TestNoSecretInExposition: an error's message, details or cause never reaches
// a label or anything else /metrics serves.
func TestNoSecretInExposition(t *testing.T) {
	cases := []struct {
		name   string
		record func(m *metrics.Metrics)
	}{
		{"ObserveCall: a plain error's text", func(m *metrics.Metrics) {
			m.ObserveCall(host.CallInfo{Instance: "acme", Plugin: "oauth2", RPC: "RefreshTokens", Err: errors.New("refresh_token=" + secret)})
		}},
		{"ObserveCall: an sdk.Error's message and details", func(m *metrics.Metrics) {
			m.ObserveCall(host.CallInfo{Instance: "acme", Plugin: "oauth2", RPC: "UserInfo",
				Err: &sdk.Error{Code: sdk.CodeSocialAccessTokenInvalid, Message: "token " + secret, Details: map[string]any{"access_token": secret}}})
		}},
		{"ObserveCall: an sdk.Error's cause", func(m *metrics.Metrics) {
			m.ObserveCall(host.CallInfo{Instance: "acme", Plugin: "oauth2", RPC: "UserInfo",
				Err: &sdk.Error{Code: sdk.CodeGeneral, Message: "failed", Cause: errors.New(secret)}})
		}},
		{"ObserveStore: a database error carrying a password", func(m *metrics.Metrics) {
			m.ObserveStore("postgres", "put_session", time.Millisecond, fmt.Errorf("%w: postgres://u:%s@h/db", store.ErrUnavailable, secret))
		}},
		{"ObserveStore: a used flow's id in the message", func(m *metrics.Metrics) {
			m.ObserveStore("sqlite", "consume_flow", time.Millisecond, fmt.Errorf("flow %s: %w", secret, store.ErrUsed))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := metrics.New()
			c.record(m)
			e := scrape(t, m)
			if strings.Contains(e.raw, secret) || strings.Contains(e.raw, strings.ToLower(secret)) {
				t.Errorf("the secret reached /metrics:\n%s", grepLines(e.raw, "idplug_"))
			}
		})
	}
}

// TestOwnRegistry: every Metrics has a registry of its own: two can coexist
// (a second New does not panic on duplicate registration), they do not share
// counts, and nothing lands in the process-wide default registry.
func TestOwnRegistry(t *testing.T) {
	a, b := metrics.New(), metrics.New()
	a.PluginRestarted("oauth2")
	if v, _ := scrape(t, b).value("idplug_plugin_restarts_total", l("plugin", "oauth2")); v != 0 {
		t.Errorf("a restart counted in one Metrics shows in another: %v", v)
	}
	if v, _ := scrape(t, a).value("idplug_plugin_restarts_total", l("plugin", "oauth2")); v != 1 {
		t.Errorf("restart count = %v, want 1", v)
	}
	families, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if strings.HasPrefix(f.GetName(), "idplug_") {
			t.Errorf("the default registry holds %s", f.GetName())
		}
	}
}

// TestMetricsLint: every family the handler serves passes the Prometheus
// client's own lint rules (naming, units, counters ending in _total, help).
func TestMetricsLint(t *testing.T) {
	m := metrics.New()
	m.ObserveCall(host.CallInfo{Instance: "acme", Plugin: "oauth2", RPC: "UserInfo"})
	m.ObserveStore("sqlite", "get_session", 0, nil)
	m.PluginRestarted("oauth2")
	m.ObserveRequest("GET /healthz", 200, 0)
	m.APIKeyFailure("invalid_key")
	m.VaultOp("read", "ok")
	m.VaultRefresh("ok")
	text := scrape(t, m).raw
	problems, err := lintText(text)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "idplug_") {
			t.Errorf("%s: %s", p.Metric, p.Text)
		}
	}
}

func grepLines(text, substr string) string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, substr) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// TestProviderEventsAreBounded: a name outside the provider's events counts as
// other, so no caller can grow the series.
func TestProviderEventsAreBounded(t *testing.T) {
	m := metrics.New()
	for i := range 1000 {
		m.ProviderEvent(fmt.Sprintf("made-up-%d", i))
	}
	m.ProviderEvent("throttled")
	e := scrape(t, m)
	if n := e.count("idplug_provider_events_total"); n != 2 {
		t.Fatalf("%d series, want 2 (other and throttled)", n)
	}
}
