package mapping

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/idplug/idplug/sdk"
)

// answer is what Apply answered, in a form to compare.
func answer(res Result, err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	out, _ := json.Marshal(res.Output())
	return string(out)
}

// oneByOneAnswer is what running m's expressions one by one, each under its
// own limits, answers for u: what Apply must answer.
func oneByOneAnswer(m *Mapping, u sdk.UserInfo) string {
	if m.Empty() {
		return answer(m.Apply(context.Background(), u))
	}
	act := &activation{u: u, withRaw: m.usesRaw}
	act.meter.deadline = farFuture
	return answer(m.oneByOne(act))
}

// equivalenceSpecs cover every way a mapping can answer: mapped, refused,
// each kind of failure, and the hostile expressions.
func equivalenceSpecs() []Spec {
	specs := []Spec{
		{Fields: map[string]string{
			"id":     `"u-" + string(raw.id)`,
			"name":   `raw.?name.orValue(null) != null ? raw.name : raw.login`,
			"avatar": `"https://avatars.example/" + string(raw.id) // a comment`,
			"email":  `null`,
			"phone":  `raw.?phone`,
		}, AllowIDChange: true, Claims: map[string]string{"orgs": `raw.orgs.map(o, o.login)`, "n": `raw.?missing`},
			Allow: `raw.orgs.exists(o, o.login == "acme")`},
		{Allow: `raw.login == "nobody"`, Fields: map[string]string{"name": `raw.nope`}},
		{Allow: `raw.login == "octocat"`, Fields: map[string]string{"name": `raw.nope`}},
		{Allow: `dyn(raw.login)`},
		{Fields: map[string]string{"name": `raw.id`, "email": `raw.nope`}},
		{Fields: map[string]string{"id": `""`}, AllowIDChange: true, Claims: map[string]string{"x": `1 / 0`}},
		{Claims: map[string]string{"a": `raw.score / 0.0`, "b": `{raw.id: 1}`}},
		{Claims: map[string]string{"a": `raw.?s.orValue("") + raw.?s.orValue("")`, "b": `raw.?big.orValue([]).map(x, x * 2).size()`}},
	}
	for _, c := range hostileAtRuntime {
		specs = append(specs,
			Spec{Claims: map[string]string{"x": c.expr}},
			Spec{Claims: map[string]string{"x": c.expr, "y": `raw.login`}, Fields: map[string]string{"name": `raw.?login.orValue("")`}})
	}
	return specs
}

// TestWholeAnswersAsOneByOne: the whole program, tracked or not, answers
// what the expressions one by one answer, for mappings that succeed, refuse
// and fail, on small and hostile profiles.
func TestWholeAnswersAsOneByOne(t *testing.T) {
	profiles := []sdk.UserInfo{octocat(), hostileProfile(t),
		{ID: "1", Name: sdk.String("n"), RawData: json.RawMessage(`{"login": "octocat", "id": 1, "orgs": [], "score": 0.5}`)}}
	for i, s := range equivalenceSpecs() {
		m := mustCompile(t, s)
		if m.whole == nil {
			t.Errorf("spec %d: the whole program did not compile", i)
		}
		for j, u := range profiles {
			got, want := answer(m.Apply(t.Context(), u)), oneByOneAnswer(m, u)
			if got != want && !bothStopped(got, want) {
				t.Errorf("spec %d, profile %d:\nApply:      %s\none by one: %s", i, j, cut(got), cut(want))
			}
		}
	}
}

// TestUntrackedOnlyWithinTheEstimate: a small mapping on a small profile runs
// without the cost tracker; the same mapping on a large profile, and a
// mapping whose cost grows faster than its input, run with it.
func TestUntrackedOnlyWithinTheEstimate(t *testing.T) {
	small := mustCompile(t, Spec{
		Fields: map[string]string{"name": `raw.?name.orValue(raw.login)`, "email": `raw.login + "@example.com"`},
		Allow:  `raw.login != "eve"`,
	})
	if small.untracked == nil || small.untrackedUpTo < 16<<10 {
		t.Fatalf("a small mapping runs untracked up to %d bytes", small.untrackedUpTo)
	}
	if inputSize(octocat()) > small.untrackedUpTo {
		t.Errorf("octocat's profile (%d) runs tracked", inputSize(octocat()))
	}
	if inputSize(hostileProfile(t)) <= small.untrackedUpTo {
		t.Errorf("a 300 KB profile runs untracked")
	}
	nested := mustCompile(t, Spec{Claims: map[string]string{"x": `raw.big.exists(x, raw.big.exists(y, x == y + 1))`}})
	if nested.untrackedUpTo >= inputSize(octocat()) {
		t.Errorf("nested comprehensions run untracked up to %d bytes", nested.untrackedUpTo)
	}
}

// TestUntrackedWithinTheLimit: wherever a mapping may run untracked, its
// tracked run stays within CostLimit: the estimate is an upper bound.
func TestUntrackedWithinTheLimit(t *testing.T) {
	checked := 0
	for i, s := range equivalenceSpecs() {
		m := mustCompile(t, s)
		if m.untracked == nil {
			continue
		}
		checked++
		// A profile at the bound, of the shapes the expressions read.
		q := ((m.untrackedUpTo-64)/2 - 200) / 4
		big := make([]int, q/2)
		raw, _ := json.Marshal(map[string]any{"login": strings.Repeat("a", q), "s": strings.Repeat("a", q),
			"big": big, "orgs": []any{}, "id": 1, "score": 1.5})
		u := sdk.UserInfo{ID: "1", RawData: raw}
		if inputSize(u) > m.untrackedUpTo {
			t.Fatalf("spec %d: the test's profile is over the bound", i)
		}
		act := &activation{u: u, withRaw: m.usesRaw}
		act.meter.deadline = farFuture
		_, det, err := m.whole.Eval(act)
		if err != nil && strings.Contains(err.Error(), "cost limit") {
			t.Errorf("spec %d: over the cost limit within the estimate's bound: %v", i, err)
		}
		if det != nil && det.ActualCost() != nil && *det.ActualCost() > CostLimit {
			t.Errorf("spec %d: cost %d", i, *det.ActualCost())
		}
	}
	if checked < 5 {
		t.Fatalf("only %d mappings run untracked", checked)
	}
}

// bothStopped reports whether a and b are the same expression stopped, one
// at a limit and one by the deadline: a slow machine (or -race) may reach the
// backstop first, and Apply, which may run an expression twice, sooner.
func bothStopped(a, b string) bool {
	name := func(s string) string {
		if i := strings.Index(s, ": stopped"); i > 0 {
			return s[:i]
		}
		return "-"
	}
	return name(a) == name(b) && name(a) != "-"
}

var farFuture = time.Now().Add(time.Hour)

func cut(s string) string {
	if len(s) > 300 {
		return s[:300] + fmt.Sprintf("... (%d bytes)", len(s))
	}
	return s
}
