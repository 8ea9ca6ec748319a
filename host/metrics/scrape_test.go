package metrics_test

import (
	"bufio"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/idplug/idplug/host/metrics"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
)

// exposition is one scrape of Metrics.Handler, parsed from the text format.
type exposition struct {
	raw    string
	help   map[string]string              // family name -> help text
	kind   map[string]string              // family name -> counter, gauge, histogram...
	series map[string]float64             // canonical series key -> value
	labels map[string]map[string]bool     // family name -> label names seen on its series
	values map[string]map[string][]string // family name -> label name -> values seen
}

// scrape serves one GET /metrics through the package's handler and parses it.
func scrape(t *testing.T, m *metrics.Metrics) exposition {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("GET /metrics: Content-Type %q, want the text format", ct)
	}
	e := exposition{raw: rec.Body.String(), help: map[string]string{}, kind: map[string]string{},
		series: map[string]float64{}, labels: map[string]map[string]bool{}, values: map[string]map[string][]string{}}
	sc := bufio.NewScanner(strings.NewReader(e.raw))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
		case strings.HasPrefix(line, "# HELP "):
			name, help, _ := strings.Cut(strings.TrimPrefix(line, "# HELP "), " ")
			e.help[name] = help
		case strings.HasPrefix(line, "# TYPE "):
			name, kind, _ := strings.Cut(strings.TrimPrefix(line, "# TYPE "), " ")
			e.kind[name] = kind
		case strings.HasPrefix(line, "#"):
		default:
			name, labels, value := parseSample(t, line)
			e.series[seriesKey(name, labels)] = value
			fam := e.family(name)
			if e.labels[fam] == nil {
				e.labels[fam] = map[string]bool{}
				e.values[fam] = map[string][]string{}
			}
			for k, v := range labels {
				if k == "le" && e.kind[fam] == "histogram" {
					continue
				}
				e.labels[fam][k] = true
				if !slices.Contains(e.values[fam][k], v) {
					e.values[fam][k] = append(e.values[fam][k], v)
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return e
}

// family is the metric family a sample name belongs to (a histogram's
// _bucket, _sum and _count samples belong to the histogram).
func (e exposition) family(sample string) string {
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(sample, suffix); ok && e.kind[base] == "histogram" {
			return base
		}
	}
	return sample
}

// value is the value of one series, and whether it is exposed at all.
func (e exposition) value(name string, labels map[string]string) (float64, bool) {
	v, ok := e.series[seriesKey(name, labels)]
	return v, ok
}

// count is the number of series a family exposes (for a histogram, the number
// of its _count samples: one per label set).
func (e exposition) count(family string) int {
	n := 0
	sample := family
	if e.kind[family] == "histogram" {
		sample = family + "_count"
	}
	for k := range e.series {
		if k == sample || strings.HasPrefix(k, sample+"{") {
			n++
		}
	}
	return n
}

// seriesKey writes a series with its labels sorted by name, so a key does not
// depend on the order the exposition used.
func seriesKey(name string, labels map[string]string) string {
	if len(labels) == 0 {
		return name
	}
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte('{')
	for i, k := range slices.Sorted(maps.Keys(labels)) {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", k, labels[k])
	}
	b.WriteByte('}')
	return b.String()
}

// parseSample reads `name{a="x",b="y"} value` (label values escaped as the text
// format escapes them: \\, \" and \n).
func parseSample(t *testing.T, line string) (string, map[string]string, float64) {
	t.Helper()
	labels := map[string]string{}
	name := line
	rest := ""
	if i := strings.IndexAny(line, "{ "); i >= 0 {
		name, rest = line[:i], line[i:]
	}
	if strings.HasPrefix(rest, "{") {
		rest = rest[1:]
		for !strings.HasPrefix(rest, "}") {
			k, after, ok := strings.Cut(rest, `="`)
			if !ok {
				t.Fatalf("bad sample line %q", line)
			}
			var v strings.Builder
			i := 0
			for ; i < len(after) && after[i] != '"'; i++ {
				if after[i] == '\\' && i+1 < len(after) {
					i++
					switch after[i] {
					case 'n':
						v.WriteByte('\n')
					default:
						v.WriteByte(after[i])
					}
					continue
				}
				v.WriteByte(after[i])
			}
			if i >= len(after) {
				t.Fatalf("bad sample line %q", line)
			}
			labels[k] = v.String()
			rest = strings.TrimPrefix(after[i+1:], ",")
		}
		rest = rest[1:]
	}
	fields := strings.Fields(rest)
	if len(fields) == 0 {
		t.Fatalf("bad sample line %q", line)
	}
	value, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		t.Fatalf("bad sample line %q: %v", line, err)
	}
	return name, labels, value
}

// l builds a label set from pairs: l("a", "x", "b", "y").
func l(kv ...string) map[string]string {
	out := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// lintText runs the Prometheus client's metric lint on a text exposition.
func lintText(text string) ([]promlint.Problem, error) {
	return promlint.New(strings.NewReader(text)).Lint()
}
