package metrics_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/idplug/idplug/internal/plugintest"
)

// family is what an operator may rely on for one metric: its name, type,
// label names and help text.
type family struct {
	name   string
	kind   string
	labels []string
	help   string
}

// families are the idplug metrics as docs/operators.md lists them, with the
// help text the registry serves.
var families = []family{
	{"idplug_connector_calls_total", "counter", []string{"connector", "plugin", "rpc", "code"},
		"Calls to connector instances, by connector, call and result code (ok on success, general for a code idplug does not define)."},
	{"idplug_connector_call_duration_seconds", "histogram", []string{"connector", "plugin", "rpc"},
		"Latency of calls to connector instances, including the plugin's calls to the provider."},
	{"idplug_plugin_restarts_total", "counter", []string{"plugin"},
		"Plugin processes restarted after they died."},
	{"idplug_plugin_state", "gauge", []string{"plugin", "state"},
		"The state of each plugin: 1 for its current state (running, restarting, failed, stopped)."},
	{"idplug_plugin_calls_in_flight", "gauge", []string{"plugin"},
		"Calls in flight to each plugin."},
	{"idplug_plugin_files_refused", "gauge", nil,
		"Files named like plugins that do not run (failed checks, failed starts, duplicate ids)."},
	{"idplug_http_requests_total", "counter", []string{"route", "status"},
		"HTTP requests, by route pattern and status."},
	{"idplug_http_idle_connections_closed_total", "counter", []string{"listener"},
		"Idle kept-alive connections a listener (public, admin) closed to make room for a new client at http.max_connections."},
	{"idplug_http_connections_refused_total", "counter", []string{"listener"},
		"New connections a listener (public, admin) closed at once: their address held http.max_connections_per_address busy ones."},
	{"idplug_api_key_failures_total", "counter", []string{"reason"},
		"Refused /v1 requests: invalid_key for a wrong API key, rate_limited for an address refused after too many, forbidden for a key outside its scopes."},
	{"idplug_store_calls_total", "counter", []string{"backend", "op", "result"},
		"Calls to the state store, by backend, operation and result (ok, used, not_found, unavailable)."},
	{"idplug_store_call_duration_seconds", "histogram", []string{"backend", "op"},
		"Latency of calls to the state store."},
	{"idplug_vault_operations_total", "counter", []string{"op", "result"},
		"Token vault operations (store, read, refresh, delete), by result: ok or an error code, general for one idplug does not define."},
	{"idplug_vault_refreshes_total", "counter", []string{"result"},
		"Refreshes of vault tokens at the provider: ok, refused (the grant is gone) or failed."},
	{"idplug_plugin_egress_refused_total", "counter", []string{"plugin", "reason"},
		"Connections the egress proxy refused a plugin: not_named, private_address, host_listener, bad_request."},
	{"idplug_config_last_reload_successful", "gauge", nil,
		"1 when the last configuration reload applied (or none was made since the start), 0 when it was refused and the configuration before it keeps serving."},
	{"idplug_config_last_reload_success_timestamp_seconds", "gauge", nil,
		"When the configuration that serves was applied: the start, or the last reload that applied (Unix time)."},
	{"idplug_provider_events_total", "counter", []string{"event"},
		"The OpenID Provider's events: code, token, refresh, revoked, end_session, denied, replayed_code, reused_refresh_token, replayed_assertion, refused_client, throttled, other_browser (other for any other name)."},
}

// docRow is one row of the metrics table of docs/operators.md.
type docRow struct {
	name, description string
	labels            []string
}

// operatorsDocMetrics reads the table under "## Metrics" in docs/operators.md.
func operatorsDocMetrics(t *testing.T) []docRow {
	t.Helper()
	root, err := plugintest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, "docs", "operators.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(raw), "\n## Metrics\n")
	if !ok {
		t.Fatal(`docs/operators.md has no "## Metrics" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	row := regexp.MustCompile("^\\| `(idplug_[a-z_]+)` \\|([^|]*)\\|(.*)\\|$")
	word := regexp.MustCompile("`([a-z_]+)`")
	var rows []docRow
	for _, line := range strings.Split(section, "\n") {
		m := row.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		r := docRow{name: m[1], description: m[3]}
		for _, w := range word.FindAllStringSubmatch(m[2], -1) {
			r.labels = append(r.labels, w[1])
		}
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		t.Fatal("no metric rows found in docs/operators.md")
	}
	return rows
}

// TestOperatorsDocListsEveryMetric: the operators' table and the metrics the
// package defines name the same families with the same labels; a histogram is
// documented as one, a counter ends in _total; and every label value the table
// spells out (`ok`, `invalid_key`, `running`...) is one the help text promises too.
func TestOperatorsDocListsEveryMetric(t *testing.T) {
	rows := operatorsDocMetrics(t)
	byName := map[string]family{}
	for _, f := range families {
		byName[f.name] = f
	}
	seen := map[string]bool{}
	for _, r := range rows {
		f, ok := byName[r.name]
		if !ok {
			t.Errorf("docs/operators.md lists %s, which the package does not define", r.name)
			continue
		}
		seen[r.name] = true
		if !slices.Equal(sorted(r.labels), sorted(f.labels)) {
			t.Errorf("%s: documented labels %v, defined %v", r.name, r.labels, f.labels)
		}
		if isHist := strings.Contains(r.description, "Histogram"); isHist != (f.kind == "histogram") {
			t.Errorf("%s: documented as histogram %v, but is a %s", r.name, isHist, f.kind)
		}
		if strings.HasSuffix(r.name, "_total") != (f.kind == "counter") {
			t.Errorf("%s: a %s; counters, and only they, end in _total", r.name, f.kind)
		}
		for _, w := range regexp.MustCompile("`([a-z_]+)`").FindAllStringSubmatch(r.description, -1) {
			if !strings.Contains(f.help, w[1]) {
				t.Errorf("%s: the documentation names the value %q, the help text does not", r.name, w[1])
			}
		}
	}
	for _, f := range families {
		if !seen[f.name] {
			t.Errorf("%s is not in the metrics table of docs/operators.md", f.name)
		}
	}
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
