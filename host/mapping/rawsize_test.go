package mapping

import (
	"runtime"
	"strings"
	"testing"

	"github.com/idplug/idplug/sdk"
)

// A connector's rawData may be up to 1 MiB (host: TestProfileTheHostCannotEncodeIsInvalid).
// A mapping that reads one key of it (the cookbook's Google rule) decodes the
// whole document first, into one CEL value per JSON value, outside the meter:
// a document of empty objects or lists (3 bytes each) had become some 350,000
// maps or lists, about 68 MB allocated and a few hundred milliseconds of CPU
// at each sign-in. A provider (or whoever answers in its place) or a hostile
// plugin made every sign-in of the connector cost that. Past MaxRawValues,
// raw is an error.
//
// The bound checked here is generous: sixteen times the raw data's size.
func TestRawDataOfManySmallValuesDoesNotSwellTheHost(t *testing.T) {
	m := mustCompile(t, Spec{Allow: `raw.?hd.orValue("") == "example.com"`})
	for name, raw := range map[string]string{
		"empty objects": `{"a":[` + strings.Repeat(`{},`, 349_000) + `{}]}`,
		"empty lists":   `{"a":[` + strings.Repeat(`[],`, 349_000) + `[]]}`,
	} {
		u := sdk.UserInfo{ID: "1", RawData: []byte(raw)}
		_, _ = m.Apply(t.Context(), u) // warm up
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := m.Apply(t.Context(), u)
		runtime.ReadMemStats(&after)
		allocated := after.TotalAlloc - before.TotalAlloc
		if limit := uint64(16 * len(raw)); allocated > limit {
			t.Errorf("%s: %d KiB of raw data allocated %d MiB to map (limit %d MiB); err = %v",
				name, len(raw)>>10, allocated>>20, limit>>20, err)
		}
	}
}

func TestRawValuesBoundsTheDocument(t *testing.T) {
	for doc, want := range map[string]int{
		`{"a":"x,[:{","b":[1,2]}`: 7, // the root, two keys, four values
		`{"a":"\",[:"}`:           3, // an escaped quote does not end the string
		`"plain"`:                 1,
	} {
		if got := rawValues([]byte(doc)); got != want {
			t.Errorf("rawValues(%s) = %d, want %d", doc, got, want)
		}
	}
	m := mustCompile(t, Spec{Allow: `raw.?hd.orValue("") == "example.com"`})
	raw := `{"hd":"example.com","groups":[` + strings.Repeat(`1,`, MaxRawValues) + `1]}`
	if _, err := m.Apply(t.Context(), sdk.UserInfo{ID: "1", RawData: []byte(raw)}); err == nil || !strings.Contains(err.Error(), "raw data") {
		t.Errorf("raw data over the limit: %v; want the allow rule refused, naming the raw data", err)
	}
	raw = `{"hd":"example.com","groups":[` + strings.Repeat(`1,`, 1000) + `1]}`
	if _, err := m.Apply(t.Context(), sdk.UserInfo{ID: "1", RawData: []byte(raw)}); err != nil {
		t.Errorf("a thousand groups: %v", err)
	}
}
