package mapping

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/idplug/idplug/sdk"
)

// Expressions written to hurt the host: each is refused when the
// configuration loads, or stopped at its cost or size limit at the sign-in
// it runs in.

// hostileProfile carries a large string and a large list, as a provider (or
// a user controlling their own profile) may send.
func hostileProfile(t testing.TB) sdk.UserInfo {
	big := make([]int, 50_000)
	for i := range big {
		big[i] = i
	}
	raw, err := json.Marshal(map[string]any{
		"s":     strings.Repeat("a", 64<<10),
		"aaa":   strings.Repeat("a", 20_000) + "b",
		"big":   big,
		"login": "mallory",
	})
	if err != nil {
		t.Fatal(err)
	}
	return sdk.UserInfo{ID: "42", RawData: raw}
}

func TestHostileExpressionsAreRefusedAtLoad(t *testing.T) {
	nestedMacros := "[1]"
	for range 5 {
		nestedMacros = "[1].map(x, " + nestedMacros + ")"
	}
	cases := map[string]struct{ expr, want string }{
		"deep macro recursion":  {nestedMacros, "comprehension exceeds nesting limit"},
		"deep nesting":          {strings.Repeat("(", 200) + "1" + strings.Repeat(")", 200), "expression recursion limit exceeded"},
		"deep list nesting":     {strings.Repeat("[", 200) + strings.Repeat("]", 200), "expression recursion limit exceeded"},
		"long expression":       {strings.Repeat("raw.s + ", 1000) + "raw.s", "bytes, more than the limit"},
		"backreference":         {`raw.s.matches("(a+)\\1")`, "invalid matches argument"},
		"lookahead":             {`raw.s.matches("a(?=b)")`, "invalid matches argument"},
		"strings extension":     {`raw.s.replace("a", "aaaa")`, "undeclared reference to 'replace'"},
		"bind (no accumulator)": {`cel.bind(x, raw.s, x + x)`, "undeclared reference"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Compile(Spec{Claims: map[string]string{"x": c.expr}})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
		})
	}
}

// hostileAtRuntime are expressions that compile and must be stopped when they
// run against hostileProfile.
var hostileAtRuntime = map[string]struct{ expr, want string }{
	// Each + costs the size of both sides: a chain of concatenations of a
	// 64 KiB string is stopped after a few, long before it could reach the
	// megabytes its length promises.
	"repeated concatenation":           {strings.Repeat("raw.s + ", 30) + "raw.s", "stopped"},
	"concatenation in a comprehension": {`raw.big.map(x, raw.s + raw.s).size()`, "stopped"},
	// A comprehension pays for each element it visits.
	"comprehension over a large list": {`raw.big.map(x, x * 2).size()`, "stopped"},
	"nested comprehensions":           {`raw.big.exists(x, raw.big.exists(y, x == y + 1))`, "stopped"},
	"filter over a large list":        {`raw.big.filter(x, x % 2 == 0).size()`, "stopped"},
	// Lists are concatenated, and references to them copied, at a constant
	// cost: a list of millions of elements is cheap to CEL. Its size is
	// charged when the result is written, and that stops at MaxResultBytes.
	"concatenated lists": {strings.Repeat("raw.big + ", 10) + "raw.big", "over 16384 bytes"},
	"copied lists":       {`[0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map(i, raw.big)`, "over 16384 bytes"},
	"large result":       {`raw.s + raw.s`, "over 16384 bytes"},
}

func TestHostileExpressionsAreStoppedAtTheirLimits(t *testing.T) {
	u := hostileProfile(t)
	for name, c := range hostileAtRuntime {
		t.Run(name, func(t *testing.T) {
			m := mustCompile(t, Spec{Claims: map[string]string{"x": c.expr}})
			_, err := m.Apply(t.Context(), u)
			if errCode(err) != CodeFailed || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %s with %q", err, CodeFailed, c.want)
			}
		})
	}
}

// TestRegexIsLinear: (a+)+$ against "aaa...ab" is the classic catastrophic
// backtracking case; a backtracking engine takes about 2^n steps for n a's
// (2^30 already takes minutes). CEL's matches() is RE2, whose work is linear
// in the input: on 20,000 a's it answers false, at a cost well inside the
// limit. The test finishing at all is the proof; BenchmarkRegexLinear shows
// the time growing with n, not 2^n.
func TestRegexIsLinear(t *testing.T) {
	u := hostileProfile(t)
	for _, re := range []string{`^(a+)+$`, `^(a|a)*$`, `^(a|aa)+$`, `^(.*a){20}$`} {
		m := mustCompile(t, Spec{Claims: map[string]string{"x": fmt.Sprintf("raw.aaa.matches(%q)", re)}})
		res, err := m.Apply(t.Context(), u)
		if err != nil {
			t.Fatalf("%s: %v", re, err)
		}
		if res.Claims["x"] != false {
			t.Fatalf("%s: matched: %v", re, res.Claims["x"])
		}
	}
}

func BenchmarkRegexLinear(b *testing.B) {
	for _, n := range []int{2_000, 6_000, 18_000} {
		raw, _ := json.Marshal(map[string]string{"s": strings.Repeat("a", n) + "b"})
		u := sdk.UserInfo{ID: "1", RawData: raw}
		m := mustCompile(&testing.T{}, Spec{Claims: map[string]string{"x": `raw.s.matches("^(a+)+$")`}})
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := m.Apply(b.Context(), u); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestHostileMappingsDoNotHurtOtherSignIns runs every hostile expression over
// and over while ordinary sign-ins map at the same time: each hostile one is
// stopped with its error, and every ordinary one gets its full, right answer.
func TestHostileMappingsDoNotHurtOtherSignIns(t *testing.T) {
	u := hostileProfile(t)
	var hostile []*Mapping
	for _, c := range hostileAtRuntime {
		hostile = append(hostile, mustCompile(t, Spec{Claims: map[string]string{"x": c.expr}}))
	}
	good := mustCompile(t, Spec{
		Fields: map[string]string{"name": `raw.login`, "email": `raw.login + "@example.com"`},
		Claims: map[string]string{"n": `raw.?login.orValue("")`},
		Allow:  `raw.login != "eve"`,
	})
	goodProfile := sdk.UserInfo{ID: "7", RawData: json.RawMessage(`{"login": "ada"}`)}

	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 4 {
		wg.Go(func() {
			for i := range 2 {
				m := hostile[(w+i)%len(hostile)]
				if _, err := m.Apply(t.Context(), u); errCode(err) != CodeFailed {
					errs <- fmt.Errorf("hostile mapping: %v", err)
				}
			}
		})
		wg.Go(func() {
			for range 50 {
				res, err := good.Apply(t.Context(), goodProfile)
				switch {
				case err != nil:
					errs <- err
				case *res.UserInfo.Name != "ada" || *res.UserInfo.Email != "ada@example.com" || res.Claims["n"] != "ada":
					errs <- fmt.Errorf("ordinary mapping: %+v", res)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestErrorsNeverCarryTheProfile(t *testing.T) {
	secret := "s3cr3t-value-never-printed"
	u := sdk.UserInfo{ID: "1", RawData: json.RawMessage(`{"token": "` + secret + `"}`)}
	for _, expr := range []string{`int(raw.token)`, `raw.token.matches("[")`, `raw.token + 1`, `raw.token.size() / 0`} {
		m, err := Compile(Spec{Claims: map[string]string{"x": expr}})
		if err != nil {
			continue
		}
		_, err = m.Apply(t.Context(), u)
		var e *sdk.Error
		if !errors.As(err, &e) {
			t.Fatalf("%s: err = %v", expr, err)
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("%s: the error repeats the profile: %v", expr, err)
		}
	}
}
