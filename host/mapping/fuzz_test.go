package mapping

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/idplug/idplug/sdk"
)

// FuzzMapping compiles an expression as a claim and as the name, and runs it
// on a raw profile: nothing panics, every failure is a *sdk.Error with one of
// the mapping's codes, what comes back fits the size limit, and the whole
// program answers what the expressions one by one do.
func FuzzMapping(f *testing.F) {
	seeds := []struct{ expr, raw string }{
		{`raw.login`, `{"login": "ada"}`},
		{`raw.?name.orValue(raw.login)`, `{"login": "ada", "name": null}`},
		{`raw.orgs.map(o, o.login)`, `{"orgs": [{"login": "a"}, {"login": "b"}]}`},
		{`raw.s.matches("^(a+)+$")`, `{"s": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab"}`},
		{`raw.l + raw.l + raw.l + raw.l`, `{"l": [1, 2, 3, 4, 5, 6, 7, 8]}`},
		{`raw.s + raw.s + raw.s + raw.s + raw.s`, `{"s": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`},
		{`raw.l.exists(x, raw.l.exists(y, x == y))`, `{"l": [1, 2, 3]}`},
		{`{raw.k: raw.v}`, `{"k": "a", "v": {"b": [1.5, true, null]}}`},
		{`int(raw.n) / 0`, `{"n": 3}`},
		{`raw.d / 0.0`, `{"d": 1.0}`},
		{`optional.none()`, `{}`},
		{`[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]`, `{}`},
		{`raw`, `[1, "two", {"three": 3}]`},
		{`raw.x`, `not json`},
		{`"a" + `, `{}`},
	}
	for _, s := range seeds {
		f.Add(s.expr, s.raw)
	}
	f.Fuzz(func(t *testing.T, expr, raw string) {
		u := sdk.UserInfo{ID: "1", Name: sdk.String("n"), RawData: json.RawMessage(raw)}
		for _, spec := range []Spec{
			{Claims: map[string]string{"x": expr}},
			{Fields: map[string]string{"name": expr}},
			{Allow: expr},
		} {
			m, err := Compile(spec)
			if err != nil {
				var ce *CompileError
				if !errors.As(err, &ce) || len(ce.Problems) == 0 {
					t.Fatalf("compile %q: %v", expr, err)
				}
				continue
			}
			res, err := m.Apply(t.Context(), u)
			if got, want := answer(res, err), oneByOneAnswer(m, u); got != want && !bothStopped(got, want) {
				t.Fatalf("apply %q on %q:\nApply:      %s\none by one: %s", expr, raw, cut(got), cut(want))
			}
			if err != nil {
				var e *sdk.Error
				if !errors.As(err, &e) || (e.Code != CodeFailed && e.Code != sdk.CodeAuthorizationFailed) {
					t.Fatalf("apply %q on %q: %v", expr, raw, err)
				}
				continue
			}
			out, err := json.Marshal(res.Output())
			if err != nil {
				t.Fatalf("apply %q on %q: the result is not JSON: %v", expr, raw, err)
			}
			if len(out) > 2*MaxResultBytes {
				t.Fatalf("apply %q: %d bytes of result", expr, len(out))
			}
		}
	})
}
