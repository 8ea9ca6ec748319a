package mapping

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
)

// The fast path decodes every valid document as encoding/json does, or
// leaves it to encoding/json; it refuses everything json.Valid refuses.
var rawJSONSeeds = []string{
	`{}`, `[]`, `{"id": 583231, "login": "octocat", "name": null, "orgs": [{"login": "github"}], "score": 1.5}`,
	` { "a" : [ 1 , -0 , 1.0 , 1e2 , -12.5E-3 , 9223372036854775807 , 9223372036854775808 , true , false , null ] } `,
	`"just a string"`, `12`, `-3.5`, `true`, `null`, `{"a": {"b": {"c": [[], {}]}}}`, `{"a": 1, "a": 2}`,
	`{"esc": "line\nbreak \u00e9 \"q\""}`, "{\"bad\": \"\xff\"}", `[1, 2] trailing`, `{"a": }`, ``, `   `,
	`{"é": "ü", "emoji": "😀"}`,
	`[1,]`, `{"a":1,}`, `{"a" 1}`, `{a:1}`, `[01]`, `[1.]`, `[.5]`, `[1e]`, `[+1]`, `[-]`, `[tru]`, `nul`, `[1 2]`,
	"[\"tab\there\"]", `{} {}`, `[1]]`, `{"a":1}}`, `[-0, 0.5e+3, 2E-2]`,
	// Past int64, past uint64, and more digits than a double holds.
	`[18446744073709551615, 18446744073709551616, 1.2345678901234567891E+19, 0.1, 1e400, 1e-400]`,
}

func TestParseJSONDecodesAsEncodingJSON(t *testing.T) {
	for _, s := range rawJSONSeeds {
		checkParseJSON(t, []byte(s))
	}
	for _, s := range rawJSONSeeds[:4] {
		if _, ok := parseJSON([]byte(s)); !ok {
			t.Errorf("%s: left to encoding/json", s)
		}
	}
}

func FuzzParseJSON(f *testing.F) {
	for _, s := range rawJSONSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkParseJSON(t, []byte(s)) })
}

func checkParseJSON(t *testing.T, data []byte) {
	t.Helper()
	val, ok := parseJSON(data)
	if !json.Valid(data) {
		if ok {
			t.Fatalf("%q: parseJSON accepts what is not JSON", data)
		}
		return
	}
	want, err := decodeJSON(data)
	if err != nil {
		t.Fatalf("%q: encoding/json: %v", data, err)
	}
	if !ok {
		return // left to encoding/json
	}
	got := native(t, val)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\nparseJSON:     %s\nencoding/json: %s", data, show(got), show(want))
	}
}

func show(v any) string { return fmt.Sprintf("%#v", v) }

// native is the Go value of a CEL value parseJSON builds, in decodeJSON's
// types; it fails t on any other CEL type.
func native(t *testing.T, v ref.Val) any {
	t.Helper()
	switch x := v.(type) {
	case types.String:
		return string(x)
	case types.Int:
		return int64(x)
	case types.Uint:
		return uint64(x)
	case *types.Err:
		return x // a number no 64-bit type holds, on both paths
	case types.Double:
		return float64(x)
	case types.Bool:
		return bool(x)
	case types.Null:
		return nil
	case traits.Mapper:
		m := map[string]any{}
		for it := x.Iterator(); it.HasNext() == types.True; {
			k := it.Next()
			ks, ok := k.(types.String)
			if !ok {
				t.Fatalf("a map key of type %s", k.Type().TypeName())
			}
			m[string(ks)] = native(t, x.Get(k))
		}
		return m
	case traits.Lister:
		l := []any{}
		for it := x.Iterator(); it.HasNext() == types.True; {
			l = append(l, native(t, it.Next()))
		}
		return l
	}
	t.Fatalf("a value of type %s", v.Type().TypeName())
	return nil
}
