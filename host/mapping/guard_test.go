package mapping

import (
	"regexp/syntax"
	"strings"
	"testing"
	"time"

	"cel.dev/cel-go/common/types"
)

// The calls guard replaces answer as CEL's own: the same values, and the
// same errors, as a program planned without the meter.
func TestGuardedCallsAnswerAsCELDoes(t *testing.T) {
	e, err := env()
	if err != nil {
		t.Fatal(err)
	}
	u := hostileProfile(t)
	for _, src := range []string{
		`1 == 1`, `dyn(1) == 1.0`, `"a" != "b"`, `[1, [2, "x"]] == [1, [2, "x"]]`, `[1, [2]] != [1, [3]]`,
		`{"a": [1]} == {"a": [1]}`, `{"a": [1]} == {"a": [1, 2]}`, `dyn([1]) == {"a": 1}`, `null == raw.login`,
		`optional.of([1]) == optional.of([1])`, `raw.?nope == optional.none()`, `raw.big == raw.big`,
		`raw.nope == 1`, `1 == raw.nope`, `raw.nope != raw.nope2`,
		`1 in [1, 2]`, `[1] in [[1], [2]]`, `"login" in raw`, `raw.big in [raw.big]`, `1 in dyn(2)`, `raw.nope in [1]`,
		`[1] + [2]`, `dyn([1]) + dyn([2, 3])`, `dyn("a") + dyn("b")`, `dyn(1) + dyn(2)`, `dyn(true) + dyn(1)`, `dyn([1]) + dyn(1)`,
		`(raw.big + raw.big).size()`, `[1, 2, 3].map(x, [x])`, `[3, 1, 2].filter(x, x < 3)`,
		`"abc".matches("b")`, `matches("abc", "^a")`, `raw.login.matches(raw.login)`, `raw.login.matches(raw.login + "[")`, `dyn(1).matches("a")`,
	} {
		checked, iss := e.Compile(src)
		if iss.Err() != nil {
			t.Fatalf("%s: %v", src, iss.Err())
		}
		plain, err := e.Program(checked)
		if err != nil {
			t.Fatal(err)
		}
		guarded, err := newProgram(e, checked)
		if err != nil {
			t.Fatal(err)
		}
		act := func() *activation {
			a := &activation{u: u, withRaw: true}
			a.meter = meter{deadline: time.Now().Add(time.Minute)}
			return a
		}
		want, _, werr := plain.Eval(act())
		got, _, gerr := guarded.Eval(act())
		switch {
		case werr != nil || gerr != nil:
			if werr == nil || gerr == nil || werr.Error() != gerr.Error() {
				t.Errorf("%s: err = %v, CEL's = %v", src, gerr, werr)
			}
		case got.Type() != want.Type() || got.Equal(want) != types.True:
			t.Errorf("%s = %v, CEL's = %v", src, got, want)
		}
	}
}

// regexSize is never less than the program Go compiles: the meter charges
// at least what the match can cost.
func TestRegexSizeBoundsTheProgram(t *testing.T) {
	for _, p := range []string{
		`a`, `^(a+)+$`, `^(a|a)*$`, `^(a|aa)+$`, `^(.*a){20}$`, `a{1000}b`, `(a*a*a*){1000}c`, `(?:[^x]{100}){3}`,
		`(((a*a*a*a*a*){10}){10}){10}c`, `[a-z0-9._%+-]+@example\.com$`, `x{2,5}y{3,}z?`, `(?i)ab|cd|ef`, ``, `\b\d+\b`,
		strings.Repeat("(?:[^x]{1000})", 20),
	} {
		re, err := syntax.Parse(p, syntax.Perl)
		if err != nil {
			t.Fatal(err)
		}
		prog, err := syntax.Compile(re.Simplify())
		if err != nil {
			t.Fatal(err)
		}
		if got := regexSize(p); got < int64(len(prog.Inst)) {
			t.Errorf("regexSize(%q) = %d, under the %d instructions of its program", p, got, len(prog.Inst))
		}
	}
}
